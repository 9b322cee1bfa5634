// Helpers for launchers (`br2k up`, tests, benchmarks): the command line of one br2k-logserver
// node, and a probe of a running replica's /status.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"

namespace br2k::replication {

struct LogserverNode {
  std::string id;                      // replica id, e.g. "node-0"
  std::string service;                 // service id, e.g. "logserver"
  std::string host = "127.0.0.1";      // listen and advertise host
  int listen_port = 0;                 // HTTP port
  std::vector<std::string> etcd_urls;  // client URLs of all members
  std::string local_etcd_url;          // this node's own member (Check role)
  std::filesystem::path data_dir;      // state.json / journal.dat live here
  // PEM files for etcd over TLS (https:// etcd_urls): all three or none.
  std::filesystem::path etcd_ca, etcd_cert, etcd_key;
  std::vector<std::string> extra_args;  // appended verbatim (e.g. "--failpoint=mid_apply")
};

// argv for `binary` (argv[0]) running `node`:
//   <binary> --id=<id> --service=<service> --listen=<host>:<port> --etcd=<u1,u2,..>
//            --local-etcd=<url> --data-dir=<dir> --advertise-url=http://<host>:<port>
//            [--etcd-ca=<f> --etcd-cert=<f> --etcd-key=<f>] <extra..>
std::vector<std::string> LogserverArgv(const std::filesystem::path& binary,
                                       const LogserverNode& node);

// What GET /status reports.
struct ReplicaProbe {
  std::string id;
  std::string role;  // "Follower", "Register", "Leader"
  uint64_t lpi = 0;
  uint64_t ssi = 0;
  uint64_t ls = 0;
  std::string leader;      // id of Current_Leader ("" if none known)
  std::string leader_url;  // its URL
  std::string url;         // the probed replica's own advertised URL
  bool healthy = true;
};

// GET <url>/status. UNAVAILABLE when it cannot be reached, DEADLINE_EXCEEDED, or
// INVALID_ARGUMENT when the answer is not a status document. Thread-safe.
Result<ReplicaProbe> ProbeReplica(const std::string& url, Deadline deadline);

}  // namespace br2k::replication
