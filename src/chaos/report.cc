#include "br2k/chaos/report.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

namespace br2k::chaos {
namespace {

using client::RecordType;
using nlohmann::json;
using replication::EntryState;

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

std::string Fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string XmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// The replica id in an answering URL's host ("http://10.213.1.12:8080/logs") is not known here;
// the report compares URLs with the leader's at the fault instead.
std::string HostOf(const std::string& url) {
  auto a = url.find("://");
  size_t start = a == std::string::npos ? 0 : a + 3;
  auto end = url.find('/', start);
  return url.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

}  // namespace

std::string FaultToJson(const FaultEvent& f) {
  return json{{"kind", f.kind},         {"target", f.target},
              {"leader", f.leader},     {"leader_id", f.leader_id},
              {"start_ns", f.start_ns}, {"end_ns", f.end_ns},
              {"note", f.note}}
      .dump();
}

Report MakeReport(const ReportInput& in) {
  Report r;
  r.title = in.title;
  r.notes = in.notes;
  r.failpoint_kills = in.failpoint_kills;
  r.duration_s = static_cast<double>(in.load_end_ns - in.load_start_ns) / 1e9;
  std::string prev;
  for (const auto& s : in.leaders) {
    if (s.leader.empty()) continue;
    if (!prev.empty() && s.leader != prev) ++r.leader_changes;
    prev = s.leader;
  }
  for (const auto& e : in.etcd.entries) {
    ++r.entries;
    switch (e.state) {
      case EntryState::kIgnore:
        ++r.ignore;
        break;
      case EntryState::kSuccess:
        ++r.success;
        break;
      case EntryState::kInProcess:
        ++r.in_process;
        break;
      case EntryState::kFail:
        ++r.fail;
        break;
      case EntryState::kNull:
        ++r.null;
        break;
    }
  }
  r.requests = in.check.stats.writes;
  r.acked = in.check.stats.ok;
  r.failed_requests = in.check.stats.fail + in.check.stats.unknown;
  r.replication_success = in.check.ok();

  // Acknowledgements (ok records of writes), in time order, with the host that answered.
  struct Ack {
    int64_t ns;
    std::string host;
  };
  std::vector<Ack> acks;
  std::vector<double> latencies;
  for (const auto& h : in.history) {
    if (h.type != RecordType::kOk || h.seq == 0) continue;
    acks.push_back({h.mono_ns, HostOf(h.url)});
    latencies.push_back(static_cast<double>(h.latency_ns) / 1e6);
  }
  std::sort(acks.begin(), acks.end(), [](const Ack& a, const Ack& b) { return a.ns < b.ns; });
  r.latency_p50_ms = Percentile(latencies, 0.5);
  r.latency_p99_ms = Percentile(latencies, 0.99);
  r.throughput = r.duration_s > 0 ? static_cast<double>(acks.size()) / r.duration_s : 0;
  int64_t last = in.load_start_ns;
  for (const auto& a : acks) {
    double gap = static_cast<double>(a.ns - last) / 1e9;
    if (gap > r.longest_ack_gap_s) {
      r.longest_ack_gap_s = gap;
      r.longest_ack_gap_at_s = static_cast<double>(last - in.load_start_ns) / 1e9;
    }
    last = a.ns;
  }
  if (in.load_end_ns > in.load_start_ns) {
    size_t secs =
        static_cast<size_t>((in.load_end_ns - in.load_start_ns + 999'999'999) / 1'000'000'000);
    r.acks_per_second.assign(secs, 0);
    for (const auto& a : acks) {
      if (a.ns < in.load_start_ns) continue;
      size_t s = static_cast<size_t>((a.ns - in.load_start_ns) / 1'000'000'000);
      if (s < secs) ++r.acks_per_second[s];
    }
  }

  // Failover: from a fault on the leader to the first acknowledgement after it whose answering
  // host is not the old leader's (the address of a replica answering the ack just before).
  for (const auto& f : in.faults) {
    ++r.faults;
    if (!f.leader) continue;
    ++r.leader_faults;
    std::string old_host;
    for (const auto& a : acks) {
      if (a.ns > f.start_ns) break;
      old_host = a.host;
    }
    double t = -1;
    for (const auto& a : acks) {
      if (a.ns > f.start_ns && a.host != old_host) {
        t = static_cast<double>(a.ns - f.start_ns) / 1e9;
        break;
      }
    }
    r.failover_s.push_back(t);
  }
  std::vector<double> ok_failovers;
  for (double t : r.failover_s) {
    if (t >= 0) ok_failovers.push_back(t);
  }
  r.failover_p50_s = Percentile(ok_failovers, 0.5);
  r.failover_max_s =
      ok_failovers.empty() ? 0 : *std::max_element(ok_failovers.begin(), ok_failovers.end());
  return r;
}

std::string ReportText(const Report& r) {
  std::ostringstream o;
  auto pct = [](uint64_t a, uint64_t b) {
    return b ? Fmt("%.1f%%", 100.0 * static_cast<double>(a) / static_cast<double>(b))
             : std::string("-");
  };
  o << "chaos run: " << r.title << "\n";
  o << "load " << Fmt("%.1f", r.duration_s) << " s, " << r.faults << " faults (" << r.leader_faults
    << " on the leader)\n\n";
  o << "Table 2 columns            this run            paper 1 (6 nodes, 1,200 req)   paper 2 (5 "
       "nodes, 50,000 req: random / leader)\n";
  o << "leader changes             " << r.leader_changes
    << "                   -                               52 / 32\n";
  o << "RS Ignore                  " << r.ignore << " of " << r.entries << " ("
    << pct(r.ignore, r.entries) << ")   -                               9,518 / 2,510\n";
  o << "RS Success                 " << r.success << " of " << r.entries << " ("
    << pct(r.success, r.entries) << ")   -                               40,480 / 47,489\n";
  o << "RS InProcess               " << r.in_process << " of " << r.entries
    << "   -                               2 / 1\n";
  o << "RS Fail / Null             " << r.fail << " / " << r.null << "\n";
  o << "failed requests            " << r.failed_requests << " of " << r.requests << " ("
    << pct(r.failed_requests, r.requests) << ")   8 to 976 of 1,200                -\n";
  o << "replication success        "
    << (r.replication_success ? "yes (checker passed)" : "NO (checker failed)")
    << "   yes                             yes\n\n";
  o << "not in the papers:\n";
  o << "  failover per leader fault  ";
  for (double t : r.failover_s) o << (t < 0 ? std::string("none") : Fmt("%.2fs", t)) << " ";
  o << "\n  failover p50 / max         " << Fmt("%.2f", r.failover_p50_s) << " s / "
    << Fmt("%.2f", r.failover_max_s) << " s\n";
  o << "  longest ack gap            " << Fmt("%.2f", r.longest_ack_gap_s)
    << " s (from t=" << Fmt("%.1f", r.longest_ack_gap_at_s) << " s)\n";
  o << "  latency p50 / p99          " << Fmt("%.1f", r.latency_p50_ms) << " ms / "
    << Fmt("%.1f", r.latency_p99_ms) << " ms\n";
  o << "  throughput                 " << Fmt("%.1f", r.throughput) << " acked writes/s ("
    << r.acked << " acked)\n";
  for (const auto& n : r.notes) o << "note: " << n << "\n";
  return o.str();
}

std::string ReportJson(const Report& r) {
  json j = {{"title", r.title},
            {"duration_s", r.duration_s},
            {"leader_changes", r.leader_changes},
            {"rs",
             {{"total", r.entries},
              {"ignore", r.ignore},
              {"success", r.success},
              {"in_process", r.in_process},
              {"fail", r.fail},
              {"null", r.null}}},
            {"requests", r.requests},
            {"acked", r.acked},
            {"failed_requests", r.failed_requests},
            {"replication_success", r.replication_success},
            {"faults", r.faults},
            {"leader_faults", r.leader_faults},
            {"failover_s", r.failover_s},
            {"failover_p50_s", r.failover_p50_s},
            {"failover_max_s", r.failover_max_s},
            {"longest_ack_gap_s", r.longest_ack_gap_s},
            {"longest_ack_gap_at_s", r.longest_ack_gap_at_s},
            {"latency_p50_ms", r.latency_p50_ms},
            {"latency_p99_ms", r.latency_p99_ms},
            {"throughput", r.throughput},
            {"acks_per_second", r.acks_per_second},
            {"failpoint_kills", r.failpoint_kills},
            {"notes", r.notes},
            {"papers",
             {{"paper1", {{"nodes", 6}, {"requests", 1200}, {"failed_requests", "8-976"}}},
              {"paper2_random",
               {{"leader_changes", 52},
                {"ignore", 9518},
                {"success", 40480},
                {"in_process", 2},
                {"requests", 50000}}},
              {"paper2_leader",
               {{"leader_changes", 32},
                {"ignore", 2510},
                {"success", 47489},
                {"in_process", 1},
                {"requests", 50000}}}}}};
  return j.dump(2, ' ', false, json::error_handler_t::replace);
}

std::string TimelineSvg(const Report& r, const std::vector<FaultEvent>& faults,
                        int64_t load_start_ns) {
  const double w = 900, h = 300, left = 50, right = 20, top = 30, bottom = 40;
  const double secs = std::max<double>(1, static_cast<double>(r.acks_per_second.size()));
  uint64_t peak = 1;
  for (auto v : r.acks_per_second) peak = std::max(peak, v);
  auto x = [&](double s) { return left + (w - left - right) * s / secs; };
  auto y = [&](double v) { return top + (h - top - bottom) * (1 - v / static_cast<double>(peak)); };
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w << "\" height=\"" << h
    << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << left << "\" y=\"18\" font-size=\"13\">" << XmlEscape(r.title)
    << ": acknowledged writes per second, faults shaded</text>\n";
  for (const auto& f : faults) {
    double s0 = static_cast<double>(f.start_ns - load_start_ns) / 1e9;
    double s1 = f.end_ns ? static_cast<double>(f.end_ns - load_start_ns) / 1e9 : secs;
    s0 = std::clamp(s0, 0.0, secs);
    s1 = std::clamp(s1, s0, secs);
    o << "<rect x=\"" << x(s0) << "\" y=\"" << top << "\" width=\"" << std::max(1.0, x(s1) - x(s0))
      << "\" height=\"" << (h - top - bottom) << "\" fill=\"" << (f.leader ? "#f4b0b0" : "#f6dca0")
      << "\" opacity=\"0.7\"/>\n";
    o << "<text x=\"" << x(s0) + 2 << "\" y=\"" << top + 12 << "\" font-size=\"9\">"
      << XmlEscape(f.kind + " " + f.target) << "</text>\n";
  }
  o << "<polyline fill=\"none\" stroke=\"#1f5fa8\" stroke-width=\"1.5\" points=\"";
  for (size_t i = 0; i < r.acks_per_second.size(); ++i) {
    o << x(static_cast<double>(i) + 0.5) << "," << y(static_cast<double>(r.acks_per_second[i]))
      << " ";
  }
  o << "\"/>\n";
  o << "<line x1=\"" << left << "\" y1=\"" << h - bottom << "\" x2=\"" << w - right << "\" y2=\""
    << h - bottom << "\" stroke=\"black\"/>\n";
  o << "<line x1=\"" << left << "\" y1=\"" << top << "\" x2=\"" << left << "\" y2=\"" << h - bottom
    << "\" stroke=\"black\"/>\n";
  o << "<text x=\"" << left - 5 << "\" y=\"" << top + 4 << "\" text-anchor=\"end\">" << peak
    << "</text>\n";
  o << "<text x=\"" << left - 5 << "\" y=\"" << h - bottom << "\" text-anchor=\"end\">0</text>\n";
  int step = secs > 600 ? 60 : secs > 120 ? 30 : secs > 30 ? 10 : 5;
  for (int s = 0; s <= static_cast<int>(secs); s += step) {
    o << "<text x=\"" << x(s) << "\" y=\"" << h - bottom + 14 << "\" text-anchor=\"middle\">" << s
      << "</text>\n";
  }
  o << "<text x=\"" << (w / 2) << "\" y=\"" << h - 8
    << "\" text-anchor=\"middle\">seconds of load (red: fault on the leader, "
       "yellow: other faults)</text>\n";
  o << "</svg>\n";
  return o.str();
}

}  // namespace br2k::chaos
