#include "br2k/replication/frontend.h"

#include <nlohmann/json.hpp>
#include <optional>

#include "br2k/common/utf8.h"
#include "br2k/http/message.h"
#include "br2k/replication/log_entry.h"

namespace br2k::replication {
namespace {

using http::HttpRequest;
using http::HttpResponse;
using http::JsonError;
using nlohmann::json;

// The log stores requests as JSON text, which holds only well-formed UTF-8: bytes that are not
// would be stored as U+FFFD while the leader applied the raw bytes, and followers and later
// leaders would apply a different request. So what cannot be stored exactly is refused here, the
// target (path and query) as well as the body.
std::optional<HttpResponse> RefuseIfNotStorable(const HttpRequest& req) {
  for (auto [what, text] : {std::pair<const char*, const std::string*>{"path", &req.path},
                            {"query string", &req.query},
                            {"body", &req.body}}) {
    size_t at = FirstInvalidUtf8(*text);
    if (at != std::string_view::npos) {
      return JsonError(400, "BAD_REQUEST",
                       std::string(what) + " is not valid UTF-8 (byte " + std::to_string(at) +
                           "): it could not be logged exactly");
    }
  }
  return std::nullopt;
}

HttpResponse FromStatus(const Status& st, const ReplicaStatus& rs, const HttpRequest& req) {
  switch (st.code()) {
    case StatusCode::kFailedPrecondition: {
      if (rs.leader_url.empty() || rs.leader == rs.id) {
        return JsonError(503, "NO_LEADER", "this replica is not the leader and no leader is known");
      }
      HttpResponse r = JsonError(307, "NOT_LEADER", "the leader is " + rs.leader);
      r.headers.push_back({"Location", rs.leader_url + req.target});
      r.headers.push_back({"X-Br2k-Leader", rs.leader});
      r.headers.push_back({"X-Br2k-Leader-Url", rs.leader_url});
      return r;
    }
    case StatusCode::kInvalidArgument:
      return JsonError(400, "BAD_REQUEST", st.message());
    case StatusCode::kOutOfRange:  // a retry of a request whose entry was trimmed
      return JsonError(410, "GONE", st.message());
    case StatusCode::kDataLoss:
    case StatusCode::kInternal:
      return JsonError(500, StatusCodeName(st.code()), st.message());
    case StatusCode::kResourceExhausted: {  // etcd refuses writes at its quota (NOSPACE)
      HttpResponse r = JsonError(503, "ETCD_NOSPACE", st.message());
      r.headers.push_back({"Retry-After", "10"});
      return r;
    }
    default: {
      HttpResponse r = JsonError(503, StatusCodeName(st.code()), st.message());
      r.headers.push_back({"Retry-After", "1"});
      return r;
    }
  }
}

}  // namespace

std::string StatusJson(const ReplicaStatus& s, const std::string& url) {
  json j = {{"id", s.id},
            {"role", RoleName(s.role)},
            {"lpi", s.lpi},
            {"ssi", s.ssi},
            {"ls", s.ls},
            {"leader", s.leader},
            {"leader_url", s.leader_url},
            {"epoch", s.epoch},
            {"url", url},
            {"healthy", s.healthy},
            {"queued", s.queued},
            {"last_error", s.last_error},
            {"log_start", s.log_start},
            {"snapshot_index", s.snapshot_index},
            {"trims", s.trims},
            {"restores", s.restores},
            {"registry_refusals", s.registry_refusals},
            {"claim_backoff_ms", s.claim_backoff_ms},
            {"location_check_resigns", s.location_check_resigns},
            {"state_rebuilds", s.state_rebuilds},
            {"last_data_loss", s.last_data_loss},
            {"log_bytes", s.log_bytes},
            {"etcd_db_size", s.etcd_db_size},
            {"etcd_db_size_in_use", s.etcd_db_size_in_use},
            {"etcd_quota_bytes", s.etcd_quota_bytes},
            {"etcd_quota_warning", s.etcd_quota_warning},
            {"etcd_nospace", s.etcd_nospace},
            {"etcd_nospace_refusals", s.etcd_nospace_refusals}};
  return j.dump();
}

http::Handler MakeHandler(Replica& replica, const Application& app, const RouteTable& routes,
                          FrontendOptions options) {
  return [&replica, &app, &routes, options](const HttpRequest& req) -> HttpResponse {
    const std::string& p = req.path;
    if (req.method == "GET" && (p == "/health" || p == "/leader" || p == "/replica" ||
                                p == "/status" || p == "/metrics")) {
      auto s = replica.status();
      HttpResponse r;
      if (p == "/health") {
        r.status = s.healthy ? 200 : 503;
        r.body = json{{"healthy", s.healthy}, {"error", s.last_error}}.dump();
      } else if (p == "/leader") {
        r.status = s.role == Role::kLeader ? 200 : 503;
        r.body = json{{"leader", s.role == Role::kLeader},
                      {"id", s.id},
                      {"current_leader", s.leader},
                      {"leader_url", s.leader_url}}
                     .dump();
      } else if (p == "/replica") {
        json j = {{"id", s.id}, {"role", RoleName(s.role)}, {"url", options.advertise_url}};
        if (req.query == "state=1") {
          auto ls = replica.local_state();
          j["lpi"] = ls.lpi;
          json state = json::parse(ls.snapshot, nullptr, false);
          j["state"] = state.is_discarded() ? json(ls.snapshot) : state;
        }
        r.body = j.dump(-1, ' ', false, json::error_handler_t::replace);
      } else if (p == "/status") {
        r.body = StatusJson(s, options.advertise_url);
        if (options.registry_status) {
          json j = json::parse(r.body);
          j["registry"] = json::parse(options.registry_status(), nullptr, false);
          r.body = j.dump(-1, ' ', false, json::error_handler_t::replace);
        }
      } else {
        r.content_type = "text/plain; version=0.0.4";
        r.body = replica.MetricsText();
      }
      return r;
    }
    auto match = routes.Find(req.method, p);
    if (!match) {
      if (routes.PathKnown(p)) return JsonError(405, "METHOD_NOT_ALLOWED", req.method + " " + p);
      return JsonError(404, "NOT_FOUND", "no route for " + req.method + " " + p);
    }
    if (auto refusal = RefuseIfNotStorable(req)) return *refusal;
    auto session = http::ParseSession(req);
    if (!session.ok()) return JsonError(400, "BAD_REQUEST", session.status().message());
    Request r{.method = req.method,
              .path = p,
              .query = req.query,
              .body = req.body,
              .client_id = session->first,
              .seq = session->second,
              .params = match->params};
    RequestType type = match->route->type;
    if (Status v = app.Validate(r, type); !v.ok()) {
      // An application may refuse a caller (403) or depend on something that is down (503).
      if (v.code() == StatusCode::kPermissionDenied) {
        return JsonError(403, "PERMISSION_DENIED", v.message());
      }
      if (v.code() == StatusCode::kUnavailable || v.code() == StatusCode::kDeadlineExceeded) {
        return JsonError(503, "UNAVAILABLE", v.message());
      }
      return JsonError(400, "BAD_REQUEST", v.message());
    }
    Deadline deadline = Deadline::After(options.request_timeout);
    if (type == RequestType::kReadOnly) {
      auto out = replica.Read(r, deadline);
      if (!out.ok()) return FromStatus(out.status(), replica.status(), req);
      return HttpResponse{
          .status = out->status, .content_type = out->content_type, .body = out->body};
    }
    auto out = replica.Execute(std::move(r), type, deadline);
    if (!out.ok()) return FromStatus(out.status(), replica.status(), req);
    HttpResponse resp{.status = out->response.status,
                      .content_type = out->response.content_type,
                      .body = out->response.body};
    resp.headers.push_back({"X-Br2k-Index", std::to_string(out->index)});
    resp.headers.push_back({"X-Br2k-State", EntryStateName(out->state)});
    if (out->duplicate) resp.headers.push_back({"X-Br2k-Duplicate", "true"});
    return resp;
  };
}

}  // namespace br2k::replication
