// br2k context add | import | use | list | show | remove: the deployment contexts
// (deploy/contexts.h) from the command line. Flags and printing only; the store does the work.
//
// Tokens are read from a file or stdin (--token-file -), never from a flag value: arguments show
// in `ps` and shell histories. No verb prints a token ("token: <set>").
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "br2k/deploy/contexts.h"
#include "commands.h"

namespace br2k::cli {
namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "br2k: %s\n", message.c_str());
  return 1;
}

struct ContextFlags {
  std::string contexts_dir;
  std::string name;
  std::string kind = "kubernetes";
  std::string server;
  std::string ca_file;
  std::string token_file;
  std::string namespace_name = "default";
  bool insecure = false;
  std::string storage_class;
  std::vector<std::string> endpoints;
  std::vector<std::string> workers;
  bool replace = false;
  std::string kubeconfig;
  std::string kube_context;
  std::string as;
  bool json = false;
};

Result<deploy::ContextStore> Store(const ContextFlags& f) {
  if (!f.contexts_dir.empty()) return deploy::ContextStore(f.contexts_dir);
  auto dir = deploy::ContextStore::DefaultDir();
  if (!dir.ok()) return dir.status();
  return deploy::ContextStore(*dir);
}

Result<std::string> ReadAll(const std::string& file, const char* what) {
  std::stringstream ss;
  if (file == "-") {
    ss << std::cin.rdbuf();
  } else {
    std::ifstream in(file);
    if (!in) return Status(StatusCode::kNotFound, std::string("cannot read ") + what + " " + file);
    ss << in.rdbuf();
  }
  return ss.str();
}

std::string Trimmed(std::string s) {
  while (!s.empty() &&
         (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
    s.pop_back();
  size_t b = 0;
  while (b < s.size() && (s[b] == ' ' || s[b] == '\t' || s[b] == '\n')) ++b;
  return s.substr(b);
}

// "NAME" or "NAME:k=v,k2=v2".
Result<deploy::Worker> ParseWorker(const std::string& text) {
  deploy::Worker w;
  size_t colon = text.find(':');
  w.name = text.substr(0, colon);
  if (colon != std::string::npos) {
    std::stringstream ss(text.substr(colon + 1));
    std::string kv;
    while (std::getline(ss, kv, ',')) {
      size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0)
        return Status(StatusCode::kInvalidArgument,
                      "--worker " + text + ": labels are k=v pairs separated by commas");
      w.labels[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  return w;
}

int Add(const ContextFlags& f) {
  auto store = Store(f);
  if (!store.ok()) return Fail(store.status().message());
  auto kind = deploy::ParseContextKind(f.kind);
  if (!kind.ok()) return Fail("--kind: " + kind.status().message());
  deploy::Context c;
  c.name = f.name;
  c.kind = *kind;
  c.server = f.server;
  c.insecure_skip_tls_verify = f.insecure;
  c.namespace_name = f.namespace_name;
  c.storage_class = f.storage_class;
  if (!f.ca_file.empty()) {
    // The CA is copied into the store: the context keeps working when the file moves.
    auto ca = ReadAll(f.ca_file, "the CA file");
    if (!ca.ok()) return Fail(ca.status().message());
    c.ca_pem = *ca;
  }
  if (!f.token_file.empty()) {
    auto token = ReadAll(f.token_file, "the token file");
    if (!token.ok()) return Fail(token.status().message());
    c.token = Trimmed(*token);
    if (c.token.empty()) return Fail("--token-file " + f.token_file + ": the token is empty");
  }
  for (const auto& e : f.endpoints) {
    size_t eq = e.find('=');
    if (eq == std::string::npos || eq == 0) return Fail("--endpoint " + e + ": expected NAME=URL");
    c.external_endpoints[e.substr(0, eq)] = e.substr(eq + 1);
  }
  for (const auto& w : f.workers) {
    auto worker = ParseWorker(w);
    if (!worker.ok()) return Fail(worker.status().message());
    c.workers.push_back(*worker);
  }
  if (c.kind == deploy::ContextKind::kKubernetes && c.token.empty())
    std::fprintf(stderr, "br2k: note: context \"%s\" has no token (--token-file FILE or -)\n",
                 c.name.c_str());
  if (auto st = store->Add(c, f.replace); !st.ok()) return Fail(st.message());
  std::printf("context \"%s\" (%s) saved in %s\n", c.name.c_str(), deploy::ContextKindName(c.kind),
              store->dir().c_str());
  return 0;
}

int Import(const ContextFlags& f) {
  auto store = Store(f);
  if (!store.ok()) return Fail(store.status().message());
  auto c = store->ImportKubeconfig(f.kubeconfig, f.kube_context, f.as, f.replace);
  if (!c.ok()) return Fail(c.status().message());
  std::printf("context \"%s\" imported from %s (server %s, namespace %s, token %s)\n",
              c->name.c_str(), f.kubeconfig.c_str(), c->server.c_str(), c->namespace_name.c_str(),
              c->token.empty() ? "<none>" : "<set>");
  return 0;
}

int Use(const ContextFlags& f) {
  auto store = Store(f);
  if (!store.ok()) return Fail(store.status().message());
  if (auto st = store->Use(f.name); !st.ok()) return Fail(st.message());
  std::printf("active context: %s\n", f.name.c_str());
  return 0;
}

int List(const ContextFlags& f) {
  auto store = Store(f);
  if (!store.ok()) return Fail(store.status().message());
  auto all = store->List();
  if (!all.ok()) return Fail(all.status().message());
  auto active = store->ActiveName();
  std::string current = active.ok() ? *active : "";
  if (f.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& c : *all) {
      auto j = c.Redacted();
      j["active"] = c.name == current;
      out.push_back(std::move(j));
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::printf("%-7s %-20s %-10s %-12s %s\n", "CURRENT", "NAME", "KIND", "NAMESPACE", "SERVER");
  for (const auto& c : *all) {
    std::printf("%-7s %-20s %-10s %-12s %s\n", c.name == current ? "*" : "", c.name.c_str(),
                deploy::ContextKindName(c.kind), c.namespace_name.c_str(),
                c.server.empty() ? "-" : c.server.c_str());
  }
  return 0;
}

std::string Scalar(const nlohmann::json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

int Show(const ContextFlags& f) {
  auto store = Store(f);
  if (!store.ok()) return Fail(store.status().message());
  std::string name = f.name;
  if (name.empty()) {
    auto active = store->ActiveName();
    if (!active.ok())
      return Fail(active.status().message() + " (name one: br2k context show NAME)");
    name = *active;
  }
  Result<nlohmann::json> shown = store->Show(name);
  if (!shown.ok() && shown.status().code() == StatusCode::kNotFound &&
      name == deploy::BuiltinPodmanContext().name) {
    auto all = store->List();  // only the built-in one when none is configured
    if (all.ok() && all->size() == 1 && (*all)[0].name == name) {
      nlohmann::json j = (*all)[0].Redacted();
      j["active"] = true;
      shown = j;
    }
  }
  if (!shown.ok()) return Fail(shown.status().message());
  const auto& j = *shown;
  if (f.json) {
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  for (const char* key : {"name", "kind", "active", "server", "namespace", "token", "ca_pem",
                          "ca_file", "insecure_skip_tls_verify", "storage_class"}) {
    if (!j.contains(key)) continue;
    std::string v = Scalar(j[key]);
    if (v.empty()) continue;
    std::printf("%s: %s\n", key, v.c_str());
  }
  if (j.contains("external_endpoints") && !j["external_endpoints"].empty()) {
    std::printf("endpoints:\n");
    for (const auto& [k, v] : j["external_endpoints"].items())
      std::printf("  %s: %s\n", k.c_str(), Scalar(v).c_str());
  }
  if (j.contains("workers") && !j["workers"].empty()) {
    std::printf("workers:\n");
    for (const auto& w : j["workers"]) {
      std::string labels;
      for (const auto& [k, v] : w["labels"].items())
        labels += (labels.empty() ? "" : ",") + k + "=" + Scalar(v);
      std::printf("  %s%s\n", Scalar(w["name"]).c_str(),
                  labels.empty() ? "" : (" " + labels).c_str());
    }
  }
  return 0;
}

int Remove(const ContextFlags& f) {
  auto store = Store(f);
  if (!store.ok()) return Fail(store.status().message());
  if (auto st = store->Remove(f.name); !st.ok()) return Fail(st.message());
  std::printf("context \"%s\" removed\n", f.name.c_str());
  return 0;
}

}  // namespace

void RegisterContextCommands(CLI::App& app) {
  auto f = std::make_shared<ContextFlags>();
  auto* ctx =
      app.add_subcommand("context", "Deployment contexts: where `br2k deploy` puts a service");
  ctx->require_subcommand(1);
  auto dir = [f](CLI::App* c) {
    c->add_option("--contexts-dir", f->contexts_dir,
                  "Context store (default $BR2K_HOME/contexts or ~/.br2k/contexts)");
  };

  auto* add =
      ctx->add_subcommand("add", "Add a context (tokens from a file or stdin, never a flag)");
  add->add_option("name", f->name, "Context name")->required();
  add->add_option("--kind", f->kind, "kubernetes or podman")
      ->check(CLI::IsMember({"kubernetes", "podman"}))
      ->capture_default_str();
  add->add_option("--server", f->server, "Kubernetes API server (https://host:port)");
  add->add_option("--ca-file", f->ca_file, "PEM of the CA the API server's certificate chains to");
  add->add_option("--token-file", f->token_file, "File holding the bearer token ('-' = stdin)");
  add->add_option("--namespace", f->namespace_name, "Namespace")->capture_default_str();
  add->add_flag("--insecure-skip-tls-verify", f->insecure,
                "Accept any server certificate (throw-away test clusters only)");
  add->add_option("--storage-class", f->storage_class,
                  "StorageClass of the claims (default: the cluster's)");
  add->add_option("--endpoint", f->endpoints,
                  "NAME=URL as the pods reach it (e.g. rpc=http://anvil:8545); repeatable");
  add->add_option("--worker", f->workers,
                  "NAME[:k=v,...] a worker node and its labels; repeatable");
  add->add_flag("--replace", f->replace, "Replace a context of that name");
  dir(add);
  add->callback([f] { std::exit(Add(*f)); });

  auto* imp = ctx->add_subcommand("import", "Add a context from a kubeconfig");
  imp->add_option("kubeconfig", f->kubeconfig, "kubeconfig file")->required();
  imp->add_option("--context", f->kube_context,
                  "The kubeconfig's context (default: its current-context)");
  imp->add_option("--as", f->as, "Name of the br2k context (default: the kubeconfig context's)");
  imp->add_flag("--replace", f->replace, "Replace a context of that name");
  dir(imp);
  imp->callback([f] { std::exit(Import(*f)); });

  auto* use = ctx->add_subcommand("use", "Make a context the active one");
  use->add_option("name", f->name, "Context name")->required();
  dir(use);
  use->callback([f] { std::exit(Use(*f)); });

  auto* list = ctx->add_subcommand("list", "List the contexts (the active one marked *)");
  list->add_flag("--json", f->json, "JSON (tokens never included)");
  dir(list);
  list->callback([f] { std::exit(List(*f)); });

  auto* show =
      ctx->add_subcommand("show", "Show a context (default: the active one), never its token");
  show->add_option("name", f->name, "Context name");
  show->add_flag("--json", f->json, "JSON");
  dir(show);
  show->callback([f] { std::exit(Show(*f)); });

  auto* rm = ctx->add_subcommand("remove", "Remove a context and its token");
  rm->add_option("name", f->name, "Context name")->required();
  dir(rm);
  rm->callback([f] { std::exit(Remove(*f)); });
}

}  // namespace br2k::cli
