#include "dashboard_http.h"

#include <future>
#include <nlohmann/json.hpp>
#include <set>

#include "br2k/http/client.h"
#include "dashboard_app.h"
#include "web_assets.h"

namespace br2k::apps::dashboard {
namespace {

using http::HttpRequest;
using http::HttpResponse;
using http::JsonError;
using nlohmann::json;

HttpResponse Json(const json& j, int status = 200) {
  return {.status = status, .body = j.dump(-1, ' ', false, json::error_handler_t::replace)};
}

HttpResponse Text(std::string body) {
  return {.status = 200, .body = std::move(body)};
}

HttpResponse FromChain(const Status& st) {
  if (st.code() == StatusCode::kNotFound) return JsonError(404, "NOT_FOUND", st.message());
  if (st.code() == StatusCode::kInvalidArgument) {
    return JsonError(400, "BAD_REQUEST", st.message());
  }
  return JsonError(503, StatusCodeName(st.code()), "chain: " + st.message());
}

// GET <url>/status, as the replica reported it (plus "url" and "reachable").
json Probe(const std::string& url, std::chrono::milliseconds timeout) {
  json out = {{"url", url}, {"reachable", false}};
  auto r = http::Call(url, "GET", "/status", "", {}, Deadline::After(timeout));
  if (!r.ok()) {
    out["error"] = r.status().message();
    return out;
  }
  json s = json::parse(r->body, nullptr, false);
  if (r->status != 200 || !s.is_object()) {
    out["error"] = "HTTP " + std::to_string(r->status);
    return out;
  }
  out["reachable"] = true;
  for (const char* k : {"id", "role", "lpi", "ssi", "ls", "leader", "leader_url", "epoch",
                        "healthy", "last_error", "queued"}) {
    if (s.contains(k)) out[k] = s[k];
  }
  return out;
}

// Only http(s) URLs on the service's record are probed (a location is any string on chain).
bool Probeable(const std::string& url) {
  return http::ParseHttpUrl(url).ok();
}

}  // namespace

http::Handler MakeDashboardHandler(replication::Replica& replica, RegistryView* registry,
                                   http::Handler runtime, DashboardHttpOptions options) {
  auto handle = [&replica, registry, runtime = std::move(runtime),
                 options](const HttpRequest& req) -> HttpResponse {
    const std::string& p = req.path;
    if (req.method == "OPTIONS") {
      HttpResponse r{.status = 204, .content_type = "text/plain"};
      r.headers.push_back({"Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS"});
      r.headers.push_back(
          {"Access-Control-Allow-Headers", "Content-Type, X-Br2k-Client, X-Br2k-Seq"});
      r.headers.push_back({"Access-Control-Max-Age", "600"});
      return r;
    }
    if (req.method == "GET") {
      if (const WebAsset* a = FindWebAsset(p)) {
        HttpResponse r{
            .status = 200, .content_type = a->content_type, .body = std::string(a->data, a->size)};
        r.headers.push_back({"Cache-Control", "no-cache"});
        return r;
      }
      if (p == "/api/config") {
        auto s = replica.status();
        return Json({{"replica", s.id},
                     {"role", replication::RoleName(s.role)},
                     {"url", options.advertise_url},
                     {"leader", s.leader},
                     {"leader_url", s.leader_url},
                     {"registry", registry ? registry->address().ToChecksum() : ""},
                     {"sender", options.sender}});
      }
      if (p == "/api/history") {
        auto local = replica.local_state();
        auto state = DecodeState(local.snapshot);
        if (!state.ok()) return JsonError(500, "DATA_LOSS", state.status().message());
        json j = json::parse(HistoryView(*state));
        j["lpi"] = local.lpi;
        return Json(j);
      }
      if (p == "/api/services") {
        if (!registry) return JsonError(503, "NO_CHAIN", "the dashboard runs without a registry");
        auto out = registry->ServicesJson(Deadline::After(options.chain_timeout));
        if (!out.ok()) return FromChain(out.status());
        if (req.query != "live=1") return Text(std::move(*out));
        // Each service's location asked for its /status, in parallel (at most max_probes).
        json j = json::parse(*out);
        std::vector<std::pair<size_t, std::future<json>>> probes;
        for (size_t i = 0; i < j["services"].size() && probes.size() < options.max_probes; ++i) {
          std::string loc = j["services"][i].value("location", "");
          if (!Probeable(loc)) continue;
          probes.emplace_back(i, std::async(std::launch::async, Probe, loc, options.probe_timeout));
        }
        for (auto& [i, f] : probes) j["services"][i]["live"] = f.get();
        return Json(j);
      }
      if (p.starts_with("/api/services/") && p.find('/', 14) == std::string::npos) {
        auto id = ParseServiceId(std::string_view(p).substr(14));
        if (!id.ok()) return JsonError(400, "BAD_REQUEST", id.status().message());
        auto local = replica.local_state();
        auto state = DecodeState(local.snapshot);
        if (!state.ok()) return JsonError(500, "DATA_LOSS", state.status().message());
        json history = json::parse(HistoryView(*state, *id))["services"];
        json j = {{"id", *id},
                  {"lpi", local.lpi},
                  {"history", history.empty() ? json(nullptr) : history[0]},
                  {"record", nullptr}};
        // The URLs to probe: the current location first, then earlier ones, newest first.
        std::vector<std::string> urls;
        std::set<std::string> seen;
        auto add = [&](const std::string& u) {
          if (!u.empty() && urls.size() < options.max_probes && seen.insert(u).second) {
            urls.push_back(u);
          }
        };
        if (registry) {
          auto rec = registry->ServiceJson(*id, Deadline::After(options.chain_timeout));
          if (rec.ok()) {
            j["record"] = json::parse(*rec);
            add(j["record"].value("location", ""));
          } else {
            j["record_error"] = rec.status().ToString();
          }
        }
        if (auto it = state->services.find(*id); it != state->services.end()) {
          const auto& ev = it->second.events;
          for (auto e = ev.rbegin(); e != ev.rend(); ++e) {
            if (e->kind == "NewLocation" || e->kind == "Registered") add(e->location);
          }
        }
        std::vector<std::future<json>> probes;
        for (const auto& u : urls) {
          if (Probeable(u)) {
            probes.push_back(std::async(std::launch::async, Probe, u, options.probe_timeout));
          } else {  // shown, with why it is not asked
            std::promise<json> shown;
            shown.set_value(
                {{"url", u}, {"reachable", false}, {"error", "not an http://host:port location"}});
            probes.push_back(shown.get_future());
          }
        }
        json replicas = json::array();
        for (auto& f : probes) replicas.push_back(f.get());
        j["replicas"] = replicas;
        return Json(j);
      }
      if (p.starts_with("/api/receipt/")) {
        if (!registry) return JsonError(503, "NO_CHAIN", "the dashboard runs without a registry");
        auto out = registry->ReceiptJson(p.substr(13), Deadline::After(options.chain_timeout));
        if (!out.ok()) return FromChain(out.status());
        return Text(std::move(*out));
      }
    }
    if (req.method == "POST" && p == "/api/calldata") {
      if (!registry) return JsonError(503, "NO_CHAIN", "the dashboard runs without a registry");
      auto tx = ParseTxRequest(req.body);
      if (!tx.ok()) return JsonError(400, "BAD_REQUEST", tx.status().message());
      auto call = EncodeTx(registry->address(), *tx);
      if (!call.ok()) return JsonError(400, "BAD_REQUEST", call.status().message());
      return Json({{"to", call->to},
                   {"data", call->data},
                   {"function", tx->function},
                   {"service", tx->service}});
    }
    HttpResponse out = runtime(req);
    if (req.method == "POST" && p == "/api/send" && out.status == 422 && registry &&
        !options.sender.empty()) {
      // The leader could not sign the transaction because the node refused it (gas estimation
      // reverted): say why in the registry's terms. Only the message is added; the recorded
      // answer (what a retry of the same request gets) stays what it was.
      json body = json::parse(out.body, nullptr, false);
      auto tx = ParseTxRequest(req.body);
      auto from = eth::Address::Parse(options.sender);
      if (body.is_object() && tx.ok() && from.ok()) {
        auto call = EncodeTx(registry->address(), *tx);
        Status why = call.ok()
                         ? registry->DryRun(*call, *from, Deadline::After(options.chain_timeout))
                         : call.status();
        if (!why.ok() && why.code() != StatusCode::kUnavailable &&
            why.code() != StatusCode::kDeadlineExceeded) {
          body["reason"] = tx->function + ": " + why.message();
          out.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
        }
      }
    }
    return out;
  };
  return [handle = std::move(handle)](const HttpRequest& req) {
    HttpResponse r = handle(req);
    r.headers.push_back({"Access-Control-Allow-Origin", "*"});
    r.headers.push_back({"Access-Control-Expose-Headers",
                         "X-Br2k-Index, X-Br2k-State, X-Br2k-Duplicate, X-Br2k-Leader-Url"});
    return r;
  };
}

}  // namespace br2k::apps::dashboard
