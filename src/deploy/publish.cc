#include "br2k/deploy/publish.h"

namespace br2k::deploy {

using namespace std::chrono_literals;

std::optional<EmbeddedRegistry> RunningEmbeddedRegistry(const std::filesystem::path& work_dir) {
  auto file = RegistryFile::Load(work_dir / "registry.json");
  if (!file.ok() || !file->embedded) return std::nullopt;
  if (!CheckRegistryAnswers("127.0.0.1:" + std::to_string(file->embedded->port),
                            Deadline::After(2s))
           .ok())
    return std::nullopt;
  return file->embedded;
}

Result<Published> BuildAndPublish(const PublishOptions& o, const ProgressFn& progress,
                                  Deadline deadline) {
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  Published out;
  auto env = ContainerEnv::Prepare(o.work_dir / "containers");
  if (!env.ok()) return env.status();
  out.env = *env;
  auto runner = proc::PosixCommandRunner();

  // Images.
  ImagesFile images;
  if (auto loaded = ImagesFile::Load(o.work_dir / "images.json"); loaded.ok()) {
    images = *loaded;
  } else if (loaded.status().code() != StatusCode::kNotFound) {
    say("ignoring " + loaded.status().message() + "; rebuilding");
  }
  ImageBuilder builder(out.env, runner);
  struct Want {
    std::string name;
    std::filesystem::path binary;
    std::vector<std::string> dirs;
    ImageRecord* into;
  } wants[] = {
      {o.app_image_name, o.app_binary, {"/tmp", "/var/lib/br2k", "/etc/br2k/keys"}, &out.app},
      {o.etcd_image_name, o.etcd_binary, {"/tmp", "/var/lib/etcd"}, &out.etcd}};
  for (auto& w : wants) {
    auto built = builder.Build({.name = w.name, .binary = w.binary, .dirs = w.dirs},
                               images.Find(w.name), deadline);
    if (!built.ok()) return built.status().WithContext("building image " + w.name);
    bool cached = images.Find(w.name) && *images.Find(w.name) == *built;
    say("image " + built->local + " " + built->id.substr(0, 19) + " (" +
        std::to_string(built->size / (1024 * 1024)) + " MiB" + (cached ? ", cached" : ", built") +
        ")");
    *w.into = *built;
    images.Put(*built);
  }
  if (auto st = images.Save(o.work_dir / "images.json"); !st.ok()) return st;

  // Registry.
  RegistryFile reg;
  if (auto loaded = RegistryFile::Load(o.work_dir / "registry.json"); loaded.ok()) reg = *loaded;
  std::string host = o.registry;
  if (host.empty()) {
    auto running = RunningEmbeddedRegistry(o.work_dir);
    if (!running) {
      auto started = StartEmbeddedRegistry(*proc::PosixLauncher(), o.work_dir / "registry",
                                           o.detach_registry, deadline);
      if (!started.ok()) return started.status().WithContext("starting the embedded registry");
      running = *started;
      out.started_registry = true;
      say("embedded registry (docker-registry) on 127.0.0.1:" + std::to_string(running->port) +
          ", pid " + std::to_string(running->pid));
    }
    host = "127.0.0.1:" + std::to_string(running->port);
    if (reg.registry != host) reg.images.clear();
    reg.embedded = *running;
  } else {
    if (reg.registry != host) reg.images.clear();
    reg.embedded.reset();
    if (IsLoopbackRegistry(host)) {
      if (auto st = CheckRegistryAnswers(host, deadline.Cap(10s)); !st.ok()) return st;
    }
  }
  reg.registry = host;
  reg.repository = o.repository;
  for (auto* image : {&out.app, &out.etcd}) {
    auto pushed = PushImage(out.env, *runner, *image, host, o.repository, o.authfile, deadline);
    if (!pushed.ok()) return pushed.status();
    say("pushed " + pushed->reference);
    reg.Put(*pushed);
  }
  out.app_reference = reg.Find(out.app.name)->reference;
  out.etcd_reference = reg.Find(out.etcd.name)->reference;
  if (auto st = reg.Save(o.work_dir / "registry.json"); !st.ok()) return st;
  out.registry = reg;
  return out;
}

}  // namespace br2k::deploy
