// The simulator's frame sources: moving phantom and image folders.
#include "gateway/frame_source.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "io/image.h"
#include "pipeline/phantom_stream.h"

namespace um::gateway {
namespace {

namespace fs = std::filesystem;

class PhantomSource : public FrameSource {
 public:
  explicit PhantomSource(const FrameSourceOptions& o) : options_(o) { reset_stream(); }

  Result<std::optional<SourceImage>> next() override {
    pipeline::PhantomFrame f = stream_->next();
    SourceImage img;
    img.width = f.params.width;
    img.height = f.params.height;
    img.pixels = std::move(f.pixels);
    return std::optional<SourceImage>(std::move(img));
  }
  Status set_size(pipeline::FrameSize size) override {
    options_.size = size;
    ++generation_;  // a new sequence, so motion starts within range for the new size
    reset_stream();
    return Status::Ok();
  }
  std::string description() const override {
    return "moving phantom " + std::to_string(options_.size.height) + "x" +
           std::to_string(options_.size.width) + " (HxW)";
  }

 private:
  void reset_stream() {
    pipeline::PhantomStreamOptions so;
    so.size = options_.size;
    so.fps = options_.fps;
    stream_ = std::make_unique<pipeline::PhantomStream>(options_.seed + generation_, so);
  }
  FrameSourceOptions options_;
  uint64_t generation_ = 0;
  std::unique_ptr<pipeline::PhantomStream> stream_;
};

class FolderSource : public FrameSource {
 public:
  FolderSource(std::string dir, std::vector<std::string> files, bool loop)
      : dir_(std::move(dir)), files_(std::move(files)), loop_(loop) {}

  Result<std::optional<SourceImage>> next() override {
    if (index_ >= files_.size()) {
      if (!loop_) return std::optional<SourceImage>();
      index_ = 0;
    }
    const std::string& path = files_[index_++];
    Result<io::Image> img = io::read_image(path);
    if (!img.ok()) return img.status().with_context("simulator source");
    io::Image gray = io::to_gray(img.value());
    SourceImage out;
    out.width = gray.width;
    out.height = gray.height;
    out.pixels = std::move(gray.pixels);
    return std::optional<SourceImage>(std::move(out));
  }
  Status set_size(pipeline::FrameSize) override {
    return failed_precondition("a folder source keeps the size of its files");
  }
  std::string description() const override {
    return "folder '" + dir_ + "' (" + std::to_string(files_.size()) + " images" +
           (loop_ ? ", looping)" : ")");
  }

 private:
  std::string dir_;
  std::vector<std::string> files_;
  bool loop_;
  size_t index_ = 0;
};

bool is_image_file(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

}  // namespace

Result<std::unique_ptr<FrameSource>> make_frame_source(const std::string& source,
                                                       const FrameSourceOptions& options) {
  if (source == "phantom") return std::unique_ptr<FrameSource>(new PhantomSource(options));
  std::error_code ec;
  if (!fs::is_directory(source, ec))
    return not_found("simulator source '" + source + "' is neither 'phantom' nor a folder");
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(source, ec))
    if (entry.is_regular_file() && is_image_file(entry.path())) files.push_back(entry.path());
  if (ec) return unavailable("cannot list '" + source + "': " + ec.message());
  if (files.empty()) return not_found("folder '" + source + "' holds no PNG or JPEG images");
  std::sort(files.begin(), files.end());
  return std::unique_ptr<FrameSource>(new FolderSource(source, std::move(files), options.loop));
}

Result<pipeline::FrameSize> parse_frame_size(const std::string& text) {
  const auto x = text.find_first_of("xX");
  int h = 0, w = 0;
  try {
    if (x == std::string::npos) throw std::invalid_argument("no x");
    size_t used = 0;
    h = std::stoi(text.substr(0, x), &used);
    if (used != x) throw std::invalid_argument("junk");
    const std::string ws = text.substr(x + 1);
    w = std::stoi(ws, &used);
    if (used != ws.size()) throw std::invalid_argument("junk");
  } catch (const std::exception&) {
    return invalid_argument("size '" + text + "': expected HxW, e.g. 558x422");
  }
  if (h < pipeline::kMinFrameSide || h > pipeline::kMaxFrameSide || w < pipeline::kMinFrameSide ||
      w > pipeline::kMaxFrameSide)
    return invalid_argument("size '" + text + "': each side must be in 128..2048");
  return pipeline::FrameSize{h, w};
}

}  // namespace um::gateway
