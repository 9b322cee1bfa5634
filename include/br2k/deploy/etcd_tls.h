// A deployment's etcd TLS material (hardening item 11): a fresh CA per deployment and one
// certificate per node, put into the deployment's Secret so that every etcd member serves and
// talks to its peers over TLS and accepts only clients holding a certificate of this CA.
//
// The CA's private key is used once, here, and dropped: it is in no pod, no Secret and no file.
// Certificates are therefore rotated by deploying again (`br2k up` makes a new CA each time);
// a recovery re-renders pods that mount the certificates already in the Secret.
//
// Pure (fresh randomness aside); thread-safe.
#pragma once

#include <string>

#include "br2k/common/status.h"
#include "br2k/deploy/pki.h"
#include "br2k/deploy/spec.h"

namespace br2k::deploy {

// What an operator's own client (e.g. `br2k status`) needs to reach the members, when it can
// reach them at all (on one machine): the CA certificate and a client certificate of the CA.
struct EtcdClientTls {
  std::string ca_pem;
  CertificateAndKey client;
};

// Generates the CA and, for each node i, a certificate with SANs 127.0.0.1, localhost,
// spec.NodeHost(i) (a DNS name with Services addressing) and its ".cluster.local" form, and adds
// kEtcdCaFile, EtcdCertFile(i) and EtcdKeyFile(i) to spec.secrets.files (replacing earlier ones;
// spec.secrets.existing is cleared as `files` now names the Secret). Returns a client certificate
// for the operator. INVALID_ARGUMENT for a spec whose names make no DNS name; INTERNAL when
// OpenSSL fails.
Result<EtcdClientTls> AddEtcdTls(DeploymentSpec& spec);

}  // namespace br2k::deploy
