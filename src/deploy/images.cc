#include "br2k/deploy/images.h"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "text.h"

namespace br2k::deploy {

namespace {

std::string Hex(const unsigned char* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += d[p[i] >> 4];
    s += d[p[i] & 15];
  }
  return s;
}

}  // namespace

ImageBuilder::ImageBuilder(ContainerEnv env, std::shared_ptr<proc::CommandRunner> runner)
    : env_(std::move(env)), runner_(std::move(runner)) {}

Result<ImageRecord> ImageBuilder::Build(const ImageSpec& spec, const ImageRecord* cached,
                                        Deadline deadline) {
  namespace fs = std::filesystem;
  if (!IsImageName(spec.name))
    return Status(StatusCode::kInvalidArgument, "image name \"" + spec.name + "\" is not valid");
  std::error_code ec;
  fs::path binary = fs::canonical(spec.binary, ec);
  if (ec) return Status(StatusCode::kNotFound, "binary " + spec.binary.string() + " not found");
  std::string in_image = spec.path_in_image.empty() ? "/usr/bin/" + spec.binary.filename().string()
                                                    : spec.path_in_image;

  auto ldd = runner_->Run({.argv = {"ldd", binary.string()}}, deadline);
  if (!ldd.ok()) return ldd.status();
  std::vector<std::string> libs;
  if (ldd->ok()) {  // a static binary makes ldd exit 1 ("not a dynamic executable")
    auto parsed = ParseLddOutput(ldd->out);
    if (!parsed.ok()) return parsed.status();
    libs = *parsed;
  }

  // The files of the image, in a fixed order: (path in image, source file).
  std::vector<std::pair<std::string, fs::path>> files{{in_image, binary}};
  for (const auto& lib : libs) files.emplace_back(lib, fs::path(lib));
  std::sort(files.begin() + 1, files.end());

  // Fingerprint of the inputs: path, mode and contents of every file, plus the directories.
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(md, EVP_sha256(), nullptr);
  std::vector<std::string> contents;
  for (const auto& [path, src] : files) {
    auto data = internal::ReadSmallFile(src, size_t{1} << 31);
    if (!data.ok()) {
      EVP_MD_CTX_free(md);
      return data.status();
    }
    struct stat st {};
    ::stat(src.c_str(), &st);
    std::string head = path + "\n" + std::to_string(st.st_mode & 0777) + "\n" +
                       std::to_string(data->size()) + "\n";
    EVP_DigestUpdate(md, head.data(), head.size());
    EVP_DigestUpdate(md, data->data(), data->size());
    contents.push_back(std::move(*data));
  }
  for (const auto& d : spec.dirs) EVP_DigestUpdate(md, d.data(), d.size() + 1);
  unsigned char sum[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(md, sum, &n);
  EVP_MD_CTX_free(md);
  std::string inputs = "sha256:" + Hex(sum, n);

  auto tools = [&](const std::string& t) { return env_.Tool(t); };
  if (cached && cached->inputs == inputs && cached->name == spec.name) {
    auto argv = tools("podman");
    argv.insert(argv.end(), {"image", "exists", cached->local});
    auto exists = runner_->Run({.argv = argv, .env = env_.Env()}, deadline);
    if (exists.ok() && exists->ok()) return *cached;
  }

  // The build context: rootfs/ with every file at its path, and the Containerfile.
  fs::path ctx = env_.root() / "build" / spec.name;
  fs::remove_all(ctx, ec);
  fs::create_directories(ctx / "rootfs", ec);
  if (ec)
    return Status(StatusCode::kInternal, "cannot create " + ctx.string() + ": " + ec.message());
  for (size_t i = 0; i < files.size(); ++i) {
    fs::path dst = ctx / "rootfs" / fs::path(files[i].first).relative_path();
    fs::create_directories(dst.parent_path(), ec);
    std::ofstream out(dst, std::ios::binary);
    out << contents[i];
    if (!out) return Status(StatusCode::kInternal, "cannot write " + dst.string());
    out.close();
    // The source's mode: the dynamic loader must stay executable (the kernel execs it).
    struct stat st {};
    ::stat(files[i].second.c_str(), &st);
    fs::permissions(dst, i == 0 ? fs::perms(0755) : fs::perms(st.st_mode & 0755), ec);
  }
  {
    // The binary without its debug sections (a RelWithDebInfo build is mostly DWARF); Debian's
    // libraries are stripped already. strip is deterministic, so the image stays reproducible.
    fs::path bin = ctx / "rootfs" / fs::path(files[0].first).relative_path();
    auto stripped = runner_->Run({.argv = {"strip", "--strip-debug", bin.string()}}, deadline);
    if (!stripped.ok() && stripped.status().code() != StatusCode::kNotFound)
      return stripped.status();
  }
  for (const auto& d : spec.dirs)
    fs::create_directories(ctx / "rootfs" / fs::path(d).relative_path(), ec);
  // The loader is looked up at its absolute path; keep /lib64 etc. as real directories.
  std::string containerfile = "# Written by br2k: " + spec.name + " from " +
                              binary.filename().string() +
                              " and its shared libraries, on scratch (nothing downloaded).\n"
                              "FROM scratch\n"
                              "COPY rootfs/ /\n"
                              "ENTRYPOINT [\"" +
                              in_image + "\"]\n";
  {
    std::ofstream cf(ctx / "Containerfile");
    cf << containerfile;
  }
  std::string tag = inputs.substr(7, 16);
  std::string local = "localhost/" + spec.name + ":" + tag;
  auto argv = tools("buildah");
  // --timestamp 0: creation time and file times fixed, so equal inputs give an equal image id.
  argv.insert(argv.end(),
              {"bud", "--quiet", "--timestamp", "0", "--identity-label=false", "--layers=false",
               "-f", (ctx / "Containerfile").string(), "-t", local, ctx.string()});
  auto built = proc::RunChecked(*runner_, {.argv = argv, .env = env_.Env()}, deadline);
  if (!built.ok()) return built.status();

  auto inspect = tools("podman");
  inspect.insert(inspect.end(), {"image", "inspect", "--format", "{{.Id}} {{.Size}}", local});
  auto info = proc::RunChecked(*runner_, {.argv = inspect, .env = env_.Env()}, deadline);
  if (!info.ok()) return info.status();
  std::istringstream fields(info->out);
  std::string id;
  int64_t size = 0;
  fields >> id >> size;
  if (id.size() != 64)
    return Status(StatusCode::kInternal, "podman image inspect: unexpected id " + id);
  ImageRecord r{.name = spec.name,
                .tag = tag,
                .local = local,
                .id = "sha256:" + id,
                .size = size,
                .inputs = inputs,
                .source = binary.string()};
  return r;
}

}  // namespace br2k::deploy
