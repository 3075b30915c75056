// File: src/io/image.cpp
// Purpose: PNG (libpng) and JPEG (libturbojpeg) decoding into 8-bit interleaved images, PNG
// writing, and RGB -> gray. Every failure is a Status; nothing here aborts or throws.
//
// libpng reports errors by longjmp() to the png_jmpbuf of the struct. A longjmp that skips C++
// destructors is undefined behaviour, so the setjmp-protected functions below (png_read_header,
// png_read_rows, png_write_all) own no objects with destructors: every buffer is allocated by
// their caller before the call, and the libpng structs are destroyed by a guard in the caller.
#include "io/image.h"

#include <png.h>
#include <turbojpeg.h>

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>

#include "io/file_bytes.h"

namespace um::io {
namespace {

// Frames are at most 2048x2048 (SPEC); this generous cap keeps a corrupt header from asking for
// gigabytes before any pixel is decoded.
constexpr uint32_t kMaxSide = 32768;
constexpr uint64_t kMaxPixels = 1ull << 28;

constexpr uint8_t kPngMagic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

// State shared with libpng's C callbacks. Plain data only (see the file comment).
struct PngIo {
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t pos = 0;
  char error[256] = {0};
};

void png_on_error(png_structp png, png_const_charp msg) {
  auto* io = static_cast<PngIo*>(png_get_error_ptr(png));
  if (io != nullptr && io->error[0] == '\0') std::snprintf(io->error, sizeof(io->error), "%s", msg);
  png_longjmp(png, 1);
}
void png_on_warning(png_structp, png_const_charp) {}  // benign (e.g. unknown chunks)

void png_read_from_memory(png_structp png, png_bytep out, png_size_t n) {
  auto* io = static_cast<PngIo*>(png_get_io_ptr(png));
  if (n > io->size - io->pos) png_error(png, "file is truncated");
  std::memcpy(out, io->data + io->pos, n);
  io->pos += n;
}

struct PngHeader {
  uint32_t width = 0;
  uint32_t height = 0;
  int channels = 0;
  size_t rowbytes = 0;
};

// Reads the header and sets up the transforms that give 8-bit gray, RGB or RGBA.
bool png_read_header(png_structp png, png_infop info, PngHeader* h) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_user_limits(png, kMaxSide, kMaxSide);
  png_set_sig_bytes(png, 0);
  png_read_info(png, info);
  const int color = png_get_color_type(png, info);
  const int depth = png_get_bit_depth(png, info);
  if (depth == 16) png_set_scale_16(png);                        // 16 -> 8 bits, rounded
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  if (color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);  // gray+alpha -> RGBA
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  h->width = png_get_image_width(png, info);
  h->height = png_get_image_height(png, info);
  h->channels = png_get_channels(png, info);
  h->rowbytes = png_get_rowbytes(png, info);
  return true;
}

bool png_read_rows(png_structp png, png_infop info, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_image(png, rows);
  png_read_end(png, info);
  return true;
}

Result<Image> decode_png(const uint8_t* data, size_t size, const std::string& path) {
  PngIo io{data, size, 0, {0}};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &io, png_on_error, png_on_warning);
  if (png == nullptr) return resource_exhausted("libpng: cannot create a read struct");
  png_infop info = png_create_info_struct(png);
  struct Guard {
    png_structp* png;
    png_infop* info;
    ~Guard() { png_destroy_read_struct(png, info, nullptr); }
  } guard{&png, &info};
  if (info == nullptr) return resource_exhausted("libpng: cannot create an info struct");
  png_set_read_fn(png, &io, png_read_from_memory);

  PngHeader h;
  if (!png_read_header(png, info, &h)) return data_loss(path + ": corrupt PNG: " + io.error);
  if (h.channels == 2 || h.channels < 1 || h.channels > 4 || h.width == 0 || h.height == 0 ||
      static_cast<uint64_t>(h.width) * h.height > kMaxPixels ||
      h.rowbytes != static_cast<size_t>(h.width) * h.channels) {
    return invalid_argument(path + ": unsupported PNG layout (" + std::to_string(h.width) + "x" +
                            std::to_string(h.height) + ", " + std::to_string(h.channels) +
                            " channels)");
  }
  Image img;
  img.width = static_cast<int>(h.width);
  img.height = static_cast<int>(h.height);
  img.channels = h.channels;
  img.pixels.resize(h.rowbytes * h.height);
  std::vector<png_bytep> rows(h.height);
  for (uint32_t y = 0; y < h.height; ++y) rows[y] = img.pixels.data() + y * h.rowbytes;
  if (!png_read_rows(png, info, rows.data())) return data_loss(path + ": corrupt PNG: " + io.error);
  return img;
}

Result<Image> decode_jpeg(const uint8_t* data, size_t size, const std::string& path) {
  std::unique_ptr<void, int (*)(tjhandle)> tj(tjInitDecompress(), &tjDestroy);
  if (!tj) return resource_exhausted("libturbojpeg: cannot create a decompressor");
  int width = 0, height = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(tj.get(), data, static_cast<unsigned long>(size), &width,
                          &height, &subsamp, &colorspace) != 0) {
    return data_loss(path + ": corrupt JPEG header: " + tjGetErrorStr2(tj.get()));
  }
  if (width <= 0 || height <= 0) {
    return data_loss(path + ": corrupt JPEG header: no frame size");
  }
  if (static_cast<uint32_t>(width) > kMaxSide ||
      static_cast<uint32_t>(height) > kMaxSide) {
    return invalid_argument(path + ": unsupported JPEG size " + std::to_string(width) + "x" +
                            std::to_string(height));
  }
  const bool gray = colorspace == TJCS_GRAY;
  Image img;
  img.width = width;
  img.height = height;
  img.channels = gray ? 1 : 3;
  img.pixels.resize(static_cast<size_t>(width) * height * img.channels);
  // STOPONWARNING: a truncated JPEG is an error here, not a half-gray frame.
  if (tjDecompress2(tj.get(), data, static_cast<unsigned long>(size),
                    img.pixels.data(), width, 0, height, gray ? TJPF_GRAY : TJPF_RGB,
                    TJFLAG_STOPONWARNING | TJFLAG_ACCURATEDCT) != 0) {
    return data_loss(path + ": corrupt JPEG: " + tjGetErrorStr2(tj.get()));
  }
  return img;
}

struct PngWriteState {
  FILE* file = nullptr;
  char error[256] = {0};
};

bool png_write_all(png_structp png, png_infop info, const Image* img, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  const int color = img->channels == 1   ? PNG_COLOR_TYPE_GRAY
                    : img->channels == 2 ? PNG_COLOR_TYPE_GRAY_ALPHA
                    : img->channels == 3 ? PNG_COLOR_TYPE_RGB
                                         : PNG_COLOR_TYPE_RGBA;
  png_set_IHDR(png, info, img->width, img->height, 8, color, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, info);
  return true;
}

void png_on_write_error(png_structp png, png_const_charp msg) {
  auto* st = static_cast<PngWriteState*>(png_get_error_ptr(png));
  if (st != nullptr && st->error[0] == '\0') std::snprintf(st->error, sizeof(st->error), "%s", msg);
  png_longjmp(png, 1);
}

}  // namespace

Result<Image> decode_image(const uint8_t* data, size_t size, const std::string& what) {
  try {  // only allocation can throw here (pixel buffers); report it as a Status
    if (size >= 8 && std::memcmp(data, kPngMagic, 8) == 0) return decode_png(data, size, what);
    if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) {
      return decode_jpeg(data, size, what);
    }
  } catch (const std::bad_alloc&) {
    return resource_exhausted(what + ": out of memory decoding the image");
  }
  return invalid_argument(what + ": not a PNG or JPEG image (" +
                          (size == 0 ? std::string("empty file") : "unrecognised magic bytes") +
                          ")");
}

Result<Image> read_image(const std::string& path) {
  UM_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, read_file_bytes(path));
  return decode_image(bytes.data(), bytes.size(), path);
}

Status write_png(const std::string& path, const Image& image) {
  if (image.width <= 0 || image.height <= 0 || image.channels < 1 || image.channels > 4) {
    return invalid_argument("write_png: bad image geometry " + std::to_string(image.width) + "x" +
                            std::to_string(image.height) + "x" + std::to_string(image.channels));
  }
  const size_t rowbytes = static_cast<size_t>(image.width) * image.channels;
  if (image.pixels.size() != rowbytes * image.height) {
    return invalid_argument("write_png: " + std::to_string(image.pixels.size()) +
                            " bytes of pixels for a " + std::to_string(image.width) + "x" +
                            std::to_string(image.height) + "x" + std::to_string(image.channels) +
                            " image");
  }
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!file) return data_loss("cannot create " + path + ": " + std::strerror(errno));
  PngWriteState st;
  st.file = file.get();
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, &st, png_on_write_error, png_on_warning);
  if (png == nullptr) return resource_exhausted("libpng: cannot create a write struct");
  png_infop info = png_create_info_struct(png);
  struct Guard {
    png_structp* png;
    png_infop* info;
    ~Guard() { png_destroy_write_struct(png, info); }
  } guard{&png, &info};
  if (info == nullptr) return resource_exhausted("libpng: cannot create an info struct");
  png_init_io(png, file.get());
  std::vector<png_bytep> rows(image.height);
  for (int y = 0; y < image.height; ++y) {
    rows[y] = const_cast<png_bytep>(image.pixels.data()) + y * rowbytes;  // libpng only reads
  }
  if (!png_write_all(png, info, &image, rows.data())) {
    return data_loss("writing " + path + ": " + st.error);
  }
  if (std::fflush(file.get()) != 0) return data_loss("writing " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

Image to_gray(const Image& image) {
  if (image.channels == 1) return image;
  Image out;
  out.width = image.width;
  out.height = image.height;
  out.channels = 1;
  const size_t n = static_cast<size_t>(image.width) * image.height;
  out.pixels.resize(n);
  const int c = image.channels;
  const uint8_t* p = image.pixels.data();
  if (c < 3) {  // gray + alpha: keep the gray
    for (size_t i = 0; i < n; ++i) out.pixels[i] = p[i * c];
    return out;
  }
  for (size_t i = 0; i < n; ++i) {
    const uint32_t r = p[i * c], g = p[i * c + 1], b = p[i * c + 2];
    out.pixels[i] = static_cast<uint8_t>((r * 299 + g * 587 + b * 114) / 1000);
  }
  return out;
}

}  // namespace um::io
