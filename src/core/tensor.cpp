#include "core/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "core/status.h"

namespace um {
namespace {

DeviceAllocator& device_allocator() {
  static DeviceAllocator a;
  return a;
}
DeviceCopier& device_copier() {
  static DeviceCopier c;
  return c;
}

int64_t wrap_dim(int64_t d, int64_t ndim) {
  if (d < 0) d += ndim;
  if (d < 0 || d >= ndim) {
    throw Error(StatusCode::kInvalidArgument,
                "dimension " + std::to_string(d) + " out of range for a " + std::to_string(ndim) +
                    "-d tensor");
  }
  return d;
}

// Reads element i of a typed buffer as double / writes a double: the slow, general path of to().
double load_as_double(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::kF32: return static_cast<const float*>(p)[i];
    case DType::kF16: return half_to_float(static_cast<const uint16_t*>(p)[i]);
    case DType::kBF16: return bfloat16_to_float(static_cast<const uint16_t*>(p)[i]);
    case DType::kI64: return static_cast<double>(static_cast<const int64_t*>(p)[i]);
    case DType::kI32: return static_cast<const int32_t*>(p)[i];
    case DType::kU8: return static_cast<const uint8_t*>(p)[i];
    case DType::kBool: return static_cast<const uint8_t*>(p)[i] ? 1.0 : 0.0;
  }
  return 0;
}
void store_from_double(void* p, DType t, int64_t i, double v) {
  switch (t) {
    case DType::kF32: static_cast<float*>(p)[i] = static_cast<float>(v); break;
    case DType::kF16: static_cast<uint16_t*>(p)[i] = float_to_half(static_cast<float>(v)); break;
    case DType::kBF16: static_cast<uint16_t*>(p)[i] = float_to_bfloat16(static_cast<float>(v)); break;
    case DType::kI64: static_cast<int64_t*>(p)[i] = static_cast<int64_t>(v); break;
    case DType::kI32: static_cast<int32_t*>(p)[i] = static_cast<int32_t>(v); break;
    case DType::kU8: static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(v); break;
    case DType::kBool: static_cast<uint8_t*>(p)[i] = v != 0.0; break;
  }
}

// Calls fn(linear_index_in_output, element_offset_in_source) over a strided source, row-major.
template <typename Fn>
void for_each_strided(const Shape& shape, const Shape& strides, int64_t offset, Fn&& fn) {
  const int64_t n = shape_numel(shape);
  if (n == 0) return;
  const size_t nd = shape.size();
  std::vector<int64_t> idx(nd, 0);
  int64_t src = offset;
  for (int64_t i = 0; i < n; ++i) {
    fn(i, src);
    for (size_t d = nd; d-- > 0;) {
      if (++idx[d] < shape[d]) {
        src += strides[d];
        break;
      }
      src -= strides[d] * (shape[d] - 1);
      idx[d] = 0;
    }
  }
}

}  // namespace

std::string Device::str() const {
  return is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(index);
}

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << ']';
  return os.str();
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape st(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    st[i] = s;
    s *= std::max<int64_t>(shape[i], 1);
  }
  return st;
}

Storage::~Storage() {
  if (deleter_ && data_) deleter_(data_);
}

std::shared_ptr<Storage> Storage::allocate(size_t bytes, Device device) {
  const size_t padded = std::max<size_t>((bytes + 63) / 64 * 64, 64);
  if (device.is_cpu()) {
    void* p = std::aligned_alloc(64, padded);
    if (!p) throw Error(StatusCode::kResourceExhausted, "out of host memory allocating " + std::to_string(bytes) + " bytes");
    return std::make_shared<Storage>(p, bytes, device, [](void* q) { std::free(q); });
  }
  auto& a = device_allocator();
  if (!a.allocate) {
    throw Error(StatusCode::kFailedPrecondition,
                "no CUDA backend in this build (or not initialised): cannot allocate on " + device.str());
  }
  DeviceBlock block = a.allocate(padded, device.index);
  return std::make_shared<Storage>(block.data, bytes, device, std::move(block.deleter));
}

std::shared_ptr<Storage> Storage::wrap(void* data, size_t bytes, Device device,
                                       std::shared_ptr<void> keep_alive) {
  return std::make_shared<Storage>(data, bytes, device, [keep_alive](void*) mutable { keep_alive.reset(); });
}

void set_device_allocator(DeviceAllocator allocator) { device_allocator() = std::move(allocator); }
void set_device_copier(DeviceCopier copier) { device_copier() = std::move(copier); }

Tensor::Tensor(std::shared_ptr<Storage> storage, Shape shape, Shape strides, int64_t offset, DType dtype)
    : storage_(std::move(storage)), shape_(std::move(shape)), strides_(std::move(strides)),
      offset_(offset), dtype_(dtype) {}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape) {
    if (d < 0) throw Error(StatusCode::kInvalidArgument, "negative dimension in shape " + shape_str(shape));
  }
  auto st = Storage::allocate(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), device);
  return Tensor(std::move(st), shape, contiguous_strides(shape), 0, dtype);
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  if (device.is_cpu()) {
    std::memset(t.raw_data(), 0, t.nbytes());
  } else {
    if (!device_copier().zero) throw Error(StatusCode::kFailedPrecondition, "no CUDA backend to zero " + device.str());
    device_copier().zero(t.raw_data(), device, t.nbytes());
  }
  return t;
}

Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t = empty(shape);
  std::fill_n(t.data<float>(), t.numel(), value);
  return t;
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape) {
  if (static_cast<int64_t>(values.size()) != shape_numel(shape)) {
    throw Error(StatusCode::kInvalidArgument, "from_vector: " + std::to_string(values.size()) +
                                                  " values for shape " + shape_str(shape));
  }
  Tensor t = empty(shape);
  std::copy(values.begin(), values.end(), t.data<float>());
  return t;
}

int64_t Tensor::size(int64_t d) const { return shape_[wrap_dim(d, dim())]; }

bool Tensor::is_contiguous() const {
  // An empty tensor has no element to be out of place (and copy_from relies on that: a
  // non-contiguous empty destination copies through a contiguous temporary).
  if (numel() == 0) return true;
  int64_t expected = 1;
  for (size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] == 1) continue;
    if (strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  if (!storage_) return nullptr;
  return static_cast<uint8_t*>(storage_->data()) + offset_ * static_cast<int64_t>(dtype_size(dtype_));
}

void Tensor::check_dtype(DType expected) const {
  if (dtype_ != expected) {
    throw Error(StatusCode::kInvalidArgument, std::string("tensor has dtype ") + dtype_name(dtype_) +
                                                  ", expected " + dtype_name(expected));
  }
}

Tensor Tensor::view(const Shape& shape) const {
  if (!is_contiguous()) throw Error(StatusCode::kInvalidArgument, "view() of a non-contiguous tensor " + str());
  Shape s = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      if (infer >= 0) throw Error(StatusCode::kInvalidArgument, "view(): more than one -1");
      infer = static_cast<int64_t>(i);
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0) s[infer] = known == 0 ? 0 : numel() / known;
  if (shape_numel(s) != numel()) {
    throw Error(StatusCode::kInvalidArgument, "view(): cannot view " + shape_str(shape_) + " as " + shape_str(shape));
  }
  return Tensor(storage_, s, contiguous_strides(s), offset_, dtype_);
}

Tensor Tensor::reshape(const Shape& shape) const { return is_contiguous() ? view(shape) : contiguous().view(shape); }

Tensor Tensor::permute(const std::vector<int64_t>& order) const {
  if (static_cast<int64_t>(order.size()) != dim()) throw Error(StatusCode::kInvalidArgument, "permute(): wrong rank");
  Shape s(order.size()), st(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    const int64_t d = wrap_dim(order[i], dim());
    s[i] = shape_[d];
    st[i] = strides_[d];
  }
  return Tensor(storage_, s, st, offset_, dtype_);
}

Tensor Tensor::transpose(int64_t a, int64_t b) const {
  std::vector<int64_t> order(dim());
  for (int64_t i = 0; i < dim(); ++i) order[i] = i;
  std::swap(order[wrap_dim(a, dim())], order[wrap_dim(b, dim())]);
  return permute(order);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end) const {
  d = wrap_dim(d, dim());
  if (start < 0) start += shape_[d];
  if (end < 0) end += shape_[d];
  end = std::min(end, shape_[d]);
  if (start < 0 || start > end) {
    throw Error(StatusCode::kInvalidArgument, "slice(): bad range [" + std::to_string(start) + ", " +
                                                  std::to_string(end) + ") of " + shape_str(shape_));
  }
  Shape s = shape_;
  s[d] = end - start;
  return Tensor(storage_, s, strides_, offset_ + start * strides_[d], dtype_);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  d = wrap_dim(d, dim());
  if (index < 0) index += shape_[d];
  if (index < 0 || index >= shape_[d]) throw Error(StatusCode::kInvalidArgument, "select(): index out of range");
  Shape s = shape_, st = strides_;
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  return Tensor(storage_, s, st, offset_ + index * strides_[d], dtype_);
}

Tensor Tensor::unsqueeze(int64_t d) const {
  if (d < 0) d += dim() + 1;
  Shape s = shape_, st = strides_;
  const int64_t stride = d < dim() ? strides_[d] * shape_[d] : 1;
  s.insert(s.begin() + d, 1);
  st.insert(st.begin() + d, stride);
  return Tensor(storage_, s, st, offset_, dtype_);
}

Tensor Tensor::squeeze(int64_t d) const {
  d = wrap_dim(d, dim());
  if (shape_[d] != 1) throw Error(StatusCode::kInvalidArgument, "squeeze(): dimension is not 1");
  Shape s = shape_, st = strides_;
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  return Tensor(storage_, s, st, offset_, dtype_);
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape_, dtype_, device());
  out.copy_from(*this);
  return out;
}

void Tensor::copy_from(const Tensor& src) {
  if (src.shape_ != shape_) {
    throw Error(StatusCode::kInvalidArgument, "copy_from(): shape " + shape_str(src.shape_) + " into " + shape_str(shape_));
  }
  if (device().is_cuda() && src.device().is_cuda() &&
      (!is_contiguous() || !src.is_contiguous() || src.dtype_ != dtype_)) {
    if (!device_copier().copy_strided) throw Error(StatusCode::kFailedPrecondition, "no CUDA backend for a device copy");
    device_copier().copy_strided(*this, src);
    return;
  }
  if (!device().is_cpu() || !src.device().is_cpu()) {
    if (!is_contiguous() || !src.is_contiguous() || src.dtype_ != dtype_) {
      throw Error(StatusCode::kFailedPrecondition, "copy_from() across devices needs contiguous tensors of one dtype");
    }
    if (!device_copier().copy) throw Error(StatusCode::kFailedPrecondition, "no CUDA backend for a device copy");
    device_copier().copy(raw_data(), device(), src.raw_data(), src.device(), nbytes());
    return;
  }
  const size_t es = dtype_size(dtype_);
  if (src.dtype_ == dtype_ && is_contiguous() && src.is_contiguous()) {
    std::memcpy(raw_data(), src.raw_data(), nbytes());
    return;
  }
  if (!is_contiguous()) {
    Tensor tmp = empty(shape_, dtype_);
    tmp.copy_from(src);
    auto* base = static_cast<uint8_t*>(storage_->data());
    const auto* t = static_cast<const uint8_t*>(tmp.raw_data());
    for_each_strided(shape_, strides_, offset_, [&](int64_t i, int64_t off) {
      std::memcpy(base + off * es, t + i * es, es);
    });
    return;
  }
  const void* sbase = src.storage_->data();
  void* dst = raw_data();
  if (src.dtype_ == dtype_) {
    auto* d = static_cast<uint8_t*>(dst);
    const auto* s = static_cast<const uint8_t*>(sbase);
    for_each_strided(src.shape_, src.strides_, src.offset_, [&](int64_t i, int64_t off) {
      std::memcpy(d + i * es, s + off * es, es);
    });
    return;
  }
  if (dtype_ == DType::kF32 && src.dtype_ == DType::kF16) {  // the hot case: fp16 checkpoints
    auto* d = static_cast<float*>(dst);
    const auto* s = static_cast<const uint16_t*>(sbase);
    for_each_strided(src.shape_, src.strides_, src.offset_, [&](int64_t i, int64_t off) { d[i] = half_to_float(s[off]); });
    return;
  }
  for_each_strided(src.shape_, src.strides_, src.offset_, [&](int64_t i, int64_t off) {
    store_from_double(dst, dtype_, i, load_as_double(sbase, src.dtype_, off));
  });
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return *this;
  Tensor out = empty(shape_, dtype, device());
  out.copy_from(*this);
  return out;
}

Tensor Tensor::to(Device device) const {
  if (device == this->device()) return *this;
  Tensor src = contiguous();  // on its own device (a GPU gather for a strided view)
  Tensor out = empty(shape_, dtype_, device);
  out.copy_from(src);
  return out;
}

std::string Tensor::str() const {
  return std::string(dtype_name(dtype_)) + shape_str(shape_) + " " + device().str();
}

}  // namespace um
