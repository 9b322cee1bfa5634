// br2k images build | push | list | registry start|stop|status, br2k deploy, br2k undeploy: the
// paper's extended Truffle verbs over the deployment library (src/deploy). Flags and printing
// only; the work is the library's.
#include <cstdio>
#include <iostream>

#include "br2k/deploy/container_registry.h"
#include "br2k/deploy/contexts.h"
#include "br2k/deploy/deployer.h"
#include "br2k/deploy/kubernetes_runtime.h"
#include "br2k/deploy/manifests.h"
#include "br2k/deploy/podman_runtime.h"
#include "br2k/deploy/publish.h"
#include "br2k/deploy/recovery.h"
#include "commands.h"
#include "local_chain.h"
#include "run_dir.h"
#include "service_deployment.h"

namespace br2k::cli {

using namespace std::chrono_literals;

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "br2k: %s\n", message.c_str());
  return 1;
}

std::filesystem::path SelfDir() {
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
}

struct ImagesFlags {
  std::string run_dir;
  std::string app_binary;
  std::string etcd_binary = "/usr/bin/etcd";
  std::string registry;
  std::string repository = "br2k";
  std::string authfile;
  bool detach_registry = true;
};

deploy::PublishOptions PublishOptionsOf(const ImagesFlags& f) {
  deploy::PublishOptions o;
  o.work_dir = ResolveRunDir(f.run_dir);
  o.app_binary =
      f.app_binary.empty() ? SelfDir() / "br2k-logserver" : std::filesystem::path(f.app_binary);
  o.etcd_binary = f.etcd_binary;
  o.registry = f.registry;
  o.repository = f.repository;
  o.authfile = f.authfile;
  o.detach_registry = f.detach_registry;
  return o;
}

int ImagesBuild(const ImagesFlags& f) {
  auto o = PublishOptionsOf(f);
  auto env = deploy::ContainerEnv::Prepare(o.work_dir / "containers");
  if (!env.ok()) return Fail(env.status().message());
  deploy::ImagesFile images;
  if (auto loaded = deploy::ImagesFile::Load(o.work_dir / "images.json"); loaded.ok())
    images = *loaded;
  deploy::ImageBuilder builder(*env, proc::PosixCommandRunner());
  std::printf("%-16s %-17s %-20s %s\n", "IMAGE", "TAG", "ID", "SIZE");
  for (auto [name, binary] :
       {std::pair{o.app_image_name, o.app_binary}, {o.etcd_image_name, o.etcd_binary}}) {
    auto r = builder.Build({.name = name, .binary = binary, .dirs = {"/tmp"}}, images.Find(name),
                           Deadline::After(600s));
    if (!r.ok()) return Fail(r.status().message());
    std::printf("%-16s %-17s %-20s %.1f MiB\n", r->name.c_str(), r->tag.c_str(),
                r->id.substr(0, 19).c_str(), static_cast<double>(r->size) / (1024 * 1024));
    images.Put(*r);
  }
  if (auto st = images.Save(o.work_dir / "images.json"); !st.ok()) return Fail(st.message());
  std::printf("\nrecorded in %s\n", (o.work_dir / "images.json").c_str());
  return 0;
}

int ImagesPush(const ImagesFlags& f) {
  auto pub = deploy::BuildAndPublish(
      PublishOptionsOf(f), [](const std::string& l) { std::printf("%s\n", l.c_str()); },
      Deadline::After(900s));
  if (!pub.ok()) return Fail(pub.status().message());
  std::printf("\nrecorded in %s\n", (ResolveRunDir(f.run_dir) / "registry.json").c_str());
  return 0;
}

int ImagesList(const ImagesFlags& f) {
  auto dir = ResolveRunDir(f.run_dir);
  auto images = deploy::ImagesFile::Load(dir / "images.json");
  if (!images.ok()) return Fail(images.status().message() + " (build with `br2k images build`)");
  auto reg = deploy::RegistryFile::Load(dir / "registry.json");
  std::printf("%-16s %-17s %-20s %-9s %s\n", "IMAGE", "TAG", "ID", "SIZE", "PUSHED AS");
  for (const auto& r : images->images) {
    const deploy::PushedImage* p = reg.ok() ? reg->Find(r.name) : nullptr;
    std::printf(
        "%-16s %-17s %-20s %-9s %s\n", r.name.c_str(), r.tag.c_str(), r.id.substr(0, 19).c_str(),
        (std::to_string(r.size / (1024 * 1024)) + " MiB").c_str(), p ? p->reference.c_str() : "-");
  }
  return 0;
}

int RegistryStart(const ImagesFlags& f) {
  auto dir = ResolveRunDir(f.run_dir);
  if (auto running = deploy::RunningEmbeddedRegistry(dir)) {
    std::printf("embedded registry already runs on 127.0.0.1:%d (pid %d)\n", running->port,
                running->pid);
    return 0;
  }
  auto r = deploy::StartEmbeddedRegistry(*proc::PosixLauncher(), dir / "registry", true,
                                         Deadline::After(30s));
  if (!r.ok()) return Fail(r.status().message());
  deploy::RegistryFile file;
  if (auto loaded = deploy::RegistryFile::Load(dir / "registry.json"); loaded.ok()) file = *loaded;
  file.registry = "127.0.0.1:" + std::to_string(r->port);
  file.repository = f.repository;
  file.images.clear();
  file.embedded = *r;
  if (auto st = file.Save(dir / "registry.json"); !st.ok()) return Fail(st.message());
  std::printf("embedded registry on 127.0.0.1:%d (pid %d, data in %s)\n", r->port, r->pid,
              r->root.c_str());
  return 0;
}

int RegistryStop(const ImagesFlags& f) {
  auto dir = ResolveRunDir(f.run_dir);
  auto file = deploy::RegistryFile::Load(dir / "registry.json");
  if (!file.ok() || !file->embedded) {
    std::printf("no embedded registry recorded in %s\n", dir.c_str());
    return 0;
  }
  if (auto st = deploy::StopEmbeddedRegistry(*proc::PosixLauncher(), *file->embedded); !st.ok())
    return Fail(st.message());
  std::printf("stopped the embedded registry (pid %d)\n", file->embedded->pid);
  return 0;
}

struct DeployFlags {
  std::string run_dir;
  std::string context;  // "" = the store's active context (the built-in podman one when none)
  std::string contexts_dir;
  std::string name = "logserver";
  int nodes = 3;
  bool dry_run = false;
  std::string output = "yaml";
  bool purge = false;
  int timeout_s = 300;
  std::string node_label_key = deploy::DeploymentSpec().node_label_key;
  std::string node_label_value = deploy::DeploymentSpec().node_label_value;
};

// The context to deploy to, with its token: --context or the active one, from --contexts-dir or
// the default store. The built-in podman context when the store has none (or cannot be located).
Result<deploy::Context> ContextOf(const DeployFlags& f) {
  deploy::Context builtin = deploy::BuiltinPodmanContext();
  std::filesystem::path dir = f.contexts_dir;
  if (dir.empty()) {
    auto d = deploy::ContextStore::DefaultDir();
    if (!d.ok()) {
      if (f.context.empty() || f.context == builtin.name) return builtin;
      return d.status();
    }
    dir = *d;
  }
  deploy::ContextStore store(dir);
  std::string name = f.context;
  if (name.empty()) {
    auto active = store.ActiveName();
    if (!active.ok()) return active.status();
    name = *active;
  }
  auto c = store.Get(name);
  if (!c.ok() && c.status().code() == StatusCode::kNotFound && name == builtin.name) return builtin;
  return c;
}

// The chain endpoint as the pods reach it: the context's "rpc" endpoint when it names one.
std::string PodRpcUrl(const deploy::Context& ctx, const std::string& rpc_url) {
  auto it = ctx.external_endpoints.find("rpc");
  return it != ctx.external_endpoints.end() ? it->second : rpc_url;
}

// The spec `br2k deploy` renders: for podman, the run dir's containers deployment when there is
// one; else a fresh one from the flags and the context with the pushed images of registry.json
// (or placeholder digests).
Result<deploy::DeploymentSpec> SpecToRender(const DeployFlags& f, const deploy::Context& ctx,
                                            std::string* note) {
  auto dir = ResolveRunDir(f.run_dir);
  auto state = LoadRunStateIfAny(dir);
  if (!state.ok()) return state.status();
  const bool podman = ctx.kind == deploy::ContextKind::kPodman;
  // The run directory's own deployment (pods as processes or on podman) renders as it runs.
  if (podman && *state && (*state)->containers && (*state)->containers->kind != "kubernetes" &&
      (*state)->containers->name == f.name) {
    auto spec = SpecOf(*(*state)->containers, (*state)->chain);
    return spec;
  }
  deploy::DeploymentSpec spec;
  spec.name = f.name;
  spec.nodes = static_cast<size_t>(f.nodes);
  spec.addressing = podman ? deploy::Addressing::kLoopback : deploy::Addressing::kServices;
  if (!podman) {
    spec.namespace_name = ctx.namespace_name;
    spec.storage_class = ctx.storage_class;
    spec.node_label_key = f.node_label_key;
    spec.node_label_value = f.node_label_value;
  }
  std::string placeholder = "sha256:" + std::string(64, '0');
  spec.app_image = "127.0.0.1:5000/br2k/br2k-logserver@" + placeholder;
  spec.etcd_image = "127.0.0.1:5000/br2k/br2k-etcd@" + placeholder;
  if (auto reg = deploy::RegistryFile::Load(dir / "registry.json"); reg.ok()) {
    if (auto* a = reg->Find("br2k-logserver")) spec.app_image = a->reference;
    if (auto* e = reg->Find("br2k-etcd")) spec.etcd_image = e->reference;
  }
  if (spec.app_image.ends_with(placeholder) || spec.etcd_image.ends_with(placeholder))
    *note = "images not pushed yet (`br2k images push`): their digests are placeholders";
  return spec;
}

void PrintLine(const std::string& l) {
  std::printf("%s\n", l.c_str());
  std::fflush(stdout);
}

// A kubernetes context: the pushed images by digest, the chain of `br2k up` (its keys become the
// Secret) when the run dir has one, applied through the cluster's API; then the recovery
// information on chain.
int DeployKubernetes(const DeployFlags& f, const deploy::Context& ctx) {
  auto dir = ResolveRunDir(f.run_dir);
  auto reg = deploy::RegistryFile::Load(dir / "registry.json");
  const deploy::PushedImage* app = reg.ok() ? reg->Find("br2k-logserver") : nullptr;
  const deploy::PushedImage* etcd = reg.ok() ? reg->Find("br2k-etcd") : nullptr;
  if (!app || !etcd)
    return Fail("no images pushed (" + (dir / "registry.json").string() +
                " records none): push them with `br2k images push --registry HOST` to a "
                "registry the cluster can pull from");
  auto state = LoadRunStateIfAny(dir);
  if (!state.ok()) return Fail(state.status().message());
  std::optional<ChainState> chain;
  if (*state && (*state)->chain) chain = (*state)->chain;

  deploy::DeploymentSpec spec;
  spec.name = f.name;
  spec.nodes = static_cast<size_t>(f.nodes);
  spec.namespace_name = ctx.namespace_name;
  spec.storage_class = ctx.storage_class;
  spec.addressing = deploy::Addressing::kServices;
  spec.node_label_key = f.node_label_key;
  spec.node_label_value = f.node_label_value;
  spec.app_image = app->reference;
  spec.etcd_image = etcd->reference;
  if (chain) {
    if (spec.nodes > chain->operator_key_files.size())
      return Fail("--nodes " + std::to_string(spec.nodes) + ": the chain of " + dir.string() +
                  " has operator keys for " + std::to_string(chain->operator_key_files.size()) +
                  " replicas");
    if (!ctx.external_endpoints.count("rpc") &&
        (chain->rpc_url.find("127.0.0.1") != std::string::npos ||
         chain->rpc_url.find("localhost") != std::string::npos))
      std::fprintf(stderr,
                   "br2k: note: pods will call the chain at %s, a loopback address; give the "
                   "context an endpoint rpc=URL the pods can reach (br2k context add ... "
                   "--endpoint rpc=URL --replace)\n",
                   chain->rpc_url.c_str());
    spec.chain = {.rpc_url = PodRpcUrl(ctx, chain->rpc_url),
                  .chain_id = chain->chain_id,
                  .registry = chain->registry,
                  .service_name = chain->service_name};
    if (Status st = FillKeySecrets(*chain, spec); !st.ok()) return Fail(st.message());
  }
  // A fresh etcd CA per deploy (its members are reachable only inside their pods: no client
  // certificate is kept for the operator).
  if (Status st = FillEtcdTls({}, spec); !st.ok()) return Fail(st.message());
  auto endpoint = deploy::ApiEndpointOf(ctx);
  if (!endpoint.ok()) return Fail(endpoint.status().message());
  deploy::KubernetesRuntime runtime(kube::ApiClient(*endpoint), ctx.namespace_name);
  Deadline deadline = Deadline::After(std::chrono::seconds(f.timeout_s));
  auto out = deploy::DeployAndWait(runtime, spec, 0, PrintLine, deadline);
  if (!out.ok()) return Fail("context \"" + ctx.name + "\": " + out.status().message());
  std::printf("deployed %zu objects on %s (namespace %s) in %.1f s: %s\n", out->applied,
              ctx.server.c_str(), ctx.namespace_name.c_str(), out->took.count() / 1000.0,
              deploy::DescribePods(out->pods).c_str());
  if (chain) {
    std::string registry = reg->registry + (reg->repository.empty() ? "" : "/" + reg->repository);
    auto recovery = deploy::RecoveryOf(spec, "kubernetes", ctx.name, ctx.server, registry);
    if (Status st = WriteRecoveryInfo(*chain, deploy::EncodeRecovery(recovery), deadline); !st.ok())
      return Fail("recovery information on chain: " + st.message());
    std::printf("recovery information written on chain (service %s)\n",
                chain->service_name.c_str());
  }
  return 0;
}

int Deploy(const DeployFlags& f) {
  if (f.output != "yaml" && f.output != "json") return Fail("-o must be yaml or json");
  auto ctx = ContextOf(f);
  if (!ctx.ok()) return Fail(ctx.status().message());
  std::string note;
  auto spec = SpecToRender(f, *ctx, &note);
  if (!spec.ok()) return Fail(spec.status().message());
  if (f.dry_run) {
    auto objects = deploy::RenderManifests(*spec);
    if (!objects.ok()) return Fail(objects.status().message());
    if (!note.empty()) std::fprintf(stderr, "br2k: note: %s\n", note.c_str());
    std::cout << (f.output == "yaml" ? deploy::ToYaml(*objects) : deploy::ToJson(*objects));
    return 0;
  }
  if (ctx->kind == deploy::ContextKind::kKubernetes) return DeployKubernetes(f, *ctx);
  // A real deploy re-applies the run directory's deployment on its runtime (process or podman):
  // pods that run are left alone; missing ones are started again from the recorded images.
  auto dir = ResolveRunDir(f.run_dir);
  auto state = LoadRunStateIfAny(dir);
  if (!state.ok()) return Fail(state.status().message());
  if (!*state || !(*state)->containers)
    return Fail("no deployment in " + dir.string() + ": start one with `br2k up`");
  const auto& c = *(*state)->containers;
  auto runtime = RuntimeOf(c, /*detach=*/true);
  if (!runtime.ok()) return Fail(runtime.status().message());
  auto out = deploy::DeployAndWait(**runtime, *spec, 0, PrintLine,
                                   Deadline::After(std::chrono::seconds(f.timeout_s)));
  if (!out.ok()) return Fail(out.status().message());
  std::printf("deployed %zu objects in %.1f s: %s\n", out->applied, out->took.count() / 1000.0,
              deploy::DescribePods(out->pods).c_str());
  return 0;
}

int Undeploy(const DeployFlags& f) {
  auto ctx = ContextOf(f);
  if (!ctx.ok()) return Fail(ctx.status().message());
  if (ctx->kind == deploy::ContextKind::kKubernetes) {
    auto endpoint = deploy::ApiEndpointOf(*ctx);
    if (!endpoint.ok()) return Fail(endpoint.status().message());
    deploy::KubernetesRuntime runtime(kube::ApiClient(*endpoint), ctx->namespace_name);
    deploy::DeploymentSpec spec;
    spec.name = f.name;
    spec.namespace_name = ctx->namespace_name;
    spec.nodes = 16;  // the most a deployment has: absent objects are fine
    if (auto st = runtime.Remove(spec, f.purge, Deadline::After(120s)); !st.ok())
      return Fail("context \"" + ctx->name + "\": " + st.message());
    std::printf("removed the pods and Services of %s in namespace %s%s\n", f.name.c_str(),
                ctx->namespace_name.c_str(),
                f.purge ? ", their claims and the keys' Secret" : " (claims kept)");
    return 0;
  }
  auto dir = ResolveRunDir(f.run_dir);
  auto state = LoadRunStateIfAny(dir);
  if (!state.ok()) return Fail(state.status().message());
  if (!*state || !(*state)->containers) return Fail("no deployment in " + dir.string());
  const auto& c = *(*state)->containers;
  auto runtime = RuntimeOf(c, /*detach=*/false);
  if (!runtime.ok()) return Fail(runtime.status().message());
  if (auto st = (*runtime)->Remove(SpecOf(c, (*state)->chain), f.purge, Deadline::After(120s));
      !st.ok())
    return Fail(st.message());
  std::printf("removed %d pod(s)%s\n", c.nodes,
              f.purge ? ", their volumes and the keys' Secret" : " (volumes kept)");
  return 0;
}

}  // namespace

void RegisterDeployCommands(CLI::App& app) {
  auto fi = std::make_shared<ImagesFlags>();
  auto* images =
      app.add_subcommand("images", "Container images of the service and the container registry");
  images->require_subcommand(1);
  auto common = [&](CLI::App* c) {
    c->add_option("--run-dir", fi->run_dir,
                  "Where images.json, registry.json and br2k's container storage live");
    c->add_option("--app-binary", fi->app_binary,
                  "The app binary (default: br2k-logserver beside br2k)");
    c->add_option("--etcd-binary", fi->etcd_binary, "The etcd binary")->capture_default_str();
  };
  auto* build = images->add_subcommand(
      "build", "Build the app and etcd images with buildah (on scratch; cached)");
  common(build);
  build->callback([fi] { std::exit(ImagesBuild(*fi)); });
  auto* push =
      images->add_subcommand("push", "Build (cached) and push both images; record them by digest");
  common(push);
  push->add_option("--registry", fi->registry,
                   "host[:port] of the registry (default: the embedded one)");
  push->add_option("--repository", fi->repository, "Repository path prefix")->capture_default_str();
  push->add_option("--authfile", fi->authfile, "Containers auth file (default: the tools' own)");
  push->callback([fi] { std::exit(ImagesPush(*fi)); });
  auto* list = images->add_subcommand("list", "What was built and pushed");
  list->add_option("--run-dir", fi->run_dir, "Run directory");
  list->callback([fi] { std::exit(ImagesList(*fi)); });
  auto* reg = images->add_subcommand(
      "registry", "The embedded container registry (docker-registry on loopback)");
  reg->require_subcommand(1);
  auto* start = reg->add_subcommand("start", "Start it (in the background)");
  start->add_option("--run-dir", fi->run_dir, "Run directory");
  start->callback([fi] { std::exit(RegistryStart(*fi)); });
  auto* stop = reg->add_subcommand("stop", "Stop it");
  stop->add_option("--run-dir", fi->run_dir, "Run directory");
  stop->callback([fi] { std::exit(RegistryStop(*fi)); });

  auto fd = std::make_shared<DeployFlags>();
  auto* d = app.add_subcommand(
      "deploy",
      "Deploy the service's pods: on a Kubernetes context, or (the local contexts) again on the "
      "run directory's own runtime, processes or podman (running pods are left alone)");
  d->add_option("--run-dir", fd->run_dir, "Run directory");
  d->add_option("--context", fd->context,
                "Context to deploy to (default: the active one; podman when none)");
  d->add_option("--contexts-dir", fd->contexts_dir,
                "Context store (default $BR2K_HOME/contexts or ~/.br2k/contexts)");
  d->add_option("--node-label-key", fd->node_label_key,
                "Kubernetes: label key of the worker nodes pods may run on")
      ->capture_default_str();
  d->add_option("--node-label-value", fd->node_label_value, "Kubernetes: its value")
      ->capture_default_str();
  d->add_option("--name", fd->name, "Deployment (and service) name")->capture_default_str();
  d->add_option("--nodes", fd->nodes, "Pods (one app + etcd each)")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  d->add_flag("--dry-run", fd->dry_run, "Print the manifests instead of applying them");
  d->add_option("-o,--output", fd->output, "With --dry-run: yaml or json")->capture_default_str();
  d->add_option("--timeout", fd->timeout_s, "Seconds to wait for the pods")->capture_default_str();
  d->callback([fd] { std::exit(Deploy(*fd)); });
  auto* u =
      app.add_subcommand("undeploy",
                         "Remove the service's pods (volumes kept unless --purge): on a Kubernetes "
                         "context, or the run directory's own");
  u->add_option("--run-dir", fd->run_dir, "Run directory");
  u->add_flag("--purge", fd->purge, "Also delete the volumes (data) and the keys' Secret");
  u->add_option("--context", fd->context,
                "Context to remove from (default: the active one; podman when none)");
  u->add_option("--contexts-dir", fd->contexts_dir,
                "Context store (default $BR2K_HOME/contexts or ~/.br2k/contexts)");
  u->add_option("--name", fd->name, "Kubernetes: the deployment's name")->capture_default_str();
  u->callback([fd] { std::exit(Undeploy(*fd)); });
}

}  // namespace br2k::cli
