// A client's TLS material for etcd members that require client certificates
// (--client-cert-auth): the deployment's CA, this client's certificate and its key.
#pragma once

#include <string>

#include "br2k/common/status.h"

namespace br2k::etcd {

// PEM text, not file names. Either all three are set or none (enabled() is false).
struct EtcdTls {
  std::string ca_pem;    // the CA the members' server certificates must chain to
  std::string cert_pem;  // this client's certificate, signed by a CA the members trust
  std::string key_pem;   // its private key (a secret)
  bool enabled() const { return !ca_pem.empty() || !cert_pem.empty() || !key_pem.empty(); }
  // INVALID_ARGUMENT when only some of the three are set.
  Status Check() const;
};

// Reads the three PEM files of a client's TLS options (the replicas' --etcd-ca, --etcd-cert,
// --etcd-key). All three names empty: no TLS (an EtcdTls that is not enabled). INVALID_ARGUMENT
// naming the missing flag when only some are given, or naming the file when it does not hold a
// PEM block; NOT_FOUND when a file cannot be read. The PEM itself is parsed by gRPC's TLS library
// when a channel connects (a bad certificate then fails the call as UNAVAILABLE).
// Reads files only; thread-safe.
Result<EtcdTls> LoadTlsFiles(const std::string& ca_file, const std::string& cert_file,
                             const std::string& key_file);

}  // namespace br2k::etcd
