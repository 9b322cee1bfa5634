// The process runtime's record of one pod (<root>/pods/<pod>.json): which process runs each of
// its containers, with the identity that proves it is still ours (proc/ownership.h), and where
// its output goes. Written by ProcessRuntime after every start; read by it, `br2k status` and
// `br2k down`.
//
//   {"containers": [{"name": "etcd", "pid": 812, "exe": "/usr/bin/etcd",
//                    "argv": ["/usr/bin/etcd", "--name=logserver-0", ...],
//                    "start_time": 123456, "log": "<root>/logs/logserver-0-etcd.log"}, ...]}
//
// Pure functions, thread-safe; DecodePodRecord never throws, whatever the file holds.
#pragma once

#include <string>
#include <vector>

#include "br2k/common/status.h"
#include "br2k/proc/ownership.h"

namespace br2k::deploy {

// One container's process as recorded.
struct ContainerProcess {
  std::string container;  // "etcd", "app"
  proc::ProcessIdentity identity;
  std::string log_file;
  bool running = false;  // not recorded: filled in by whoever checks (ProcessRuntime::Processes)
};

std::string EncodePodRecord(const std::vector<ContainerProcess>& processes);

// DATA_LOSS naming what is wrong for a record that is not this format (not JSON, no containers
// list, an entry without a name, a pid <= 0, argv not a list of strings, over 16 containers or
// 64 KiB): the runtime then treats the pod as gone rather than signal a pid it cannot trust.
Result<std::vector<ContainerProcess>> DecodePodRecord(std::string_view text);

}  // namespace br2k::deploy
