// Container images of a br2k service, built with buildah from a Containerfile br2k writes, on
// `scratch`: the binary and its shared-library closure (as ldd lists it), nothing downloaded.
// The build is reproducible: file times and the image's creation time are fixed (epoch 0), so
// the same inputs give the same image id; the tag is a fingerprint of the inputs, so an
// unchanged binary is not rebuilt (images.json records what was built).
//
// images.json (`ImagesFile`), written atomically:
//   {"version": 1, "images": [{"name": "br2k-logserver", "tag": "3f2a...", "local":
//    "localhost/br2k-logserver:3f2a...", "id": "sha256:<64 hex>", "size": 31457280,
//    "inputs": "sha256:<64 hex>", "source": "/path/to/br2k-logserver"}]}
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"
#include "br2k/deploy/container_env.h"
#include "br2k/proc/command.h"

namespace br2k::deploy {

struct ImageRecord {
  std::string name;    // repository name, [a-z0-9._-]: "br2k-logserver", "br2k-etcd"
  std::string tag;     // first 16 hex digits of `inputs`
  std::string local;   // "localhost/<name>:<tag>" in br2k's container storage
  std::string id;      // "sha256:<64 hex>": the image (config) digest
  int64_t size = 0;    // bytes, as the container storage reports it
  std::string inputs;  // "sha256:<64 hex>" over every file's path, mode and contents
  std::string source;  // the binary it was built from
  friend bool operator==(const ImageRecord&, const ImageRecord&) = default;
};

struct ImagesFile {
  static constexpr int kVersion = 1;
  std::vector<ImageRecord> images;

  // INVALID_ARGUMENT naming the field for malformed JSON, a wrong version, a bad name, digest
  // or size. Never throws.
  static Result<ImagesFile> Parse(std::string_view json);
  std::string Serialize() const;
  // NOT_FOUND when absent; INVALID_ARGUMENT when corrupt; INTERNAL on I/O errors.
  static Result<ImagesFile> Load(const std::filesystem::path& file);
  Status Save(const std::filesystem::path& file) const;
  const ImageRecord* Find(std::string_view name) const;
  void Put(ImageRecord record);  // replaces the record of the same name
};

// Is `name` a repository name br2k builds ([a-z0-9], then [a-z0-9._-], at most 128)?
bool IsImageName(std::string_view name);

// What goes into one image.
struct ImageSpec {
  std::string name;               // repository name
  std::filesystem::path binary;   // copied to `path_in_image` with its ldd closure
  std::string path_in_image;      // default /usr/bin/<basename of binary>
  std::vector<std::string> dirs;  // empty directories to create ("/tmp", "/var/lib/br2k")
};

// The absolute library paths `ldd` printed ("libx.so.1 => /lib/x/libx.so.1 (0x...)" and
// "/lib64/ld-linux-x86-64.so.2 (0x...)"); linux-vdso and "not found" lines are skipped, a
// "not found" is reported as INVALID_ARGUMENT naming the library. Never throws.
Result<std::vector<std::string>> ParseLddOutput(std::string_view text);

// Thread-compatible (one build at a time per storage root).
class ImageBuilder {
 public:
  ImageBuilder(ContainerEnv env, std::shared_ptr<proc::CommandRunner> runner);

  // Builds `spec` (or returns `cached` unchanged when its inputs fingerprint matches and the
  // image is still in storage). The build context is <env root>/build/<name>. Errors:
  // NOT_FOUND (binary missing), INVALID_ARGUMENT (a library ldd cannot find), INTERNAL (buildah
  // failed: its last stderr line), DEADLINE_EXCEEDED.
  Result<ImageRecord> Build(const ImageSpec& spec, const ImageRecord* cached, Deadline deadline);

 private:
  ContainerEnv env_;
  std::shared_ptr<proc::CommandRunner> runner_;
};

}  // namespace br2k::deploy
