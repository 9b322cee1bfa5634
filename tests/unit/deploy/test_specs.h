// The deployment specs whose renderings are the golden files (tests/unit/deploy/golden/).
#pragma once

#include <string>

#include "br2k/deploy/spec.h"

namespace br2k::deploy::testing {

inline std::string Digest(char c) {
  return "@sha256:" + std::string(64, c);
}

// Kubernetes: Services, a chain to publish to, operator keys, the service's tx key and etcd TLS.
inline DeploymentSpec ServicesSpec() {
  DeploymentSpec s;
  s.name = "logserver";
  s.namespace_name = "br2k";
  s.nodes = 3;
  s.app_image = "registry.br2k.test:5000/br2k-logserver" + Digest('a');
  s.etcd_image = "registry.br2k.test:5000/etcd" + Digest('e');
  s.app_args = {"--mode=group", "--max-batch=256"};
  s.addressing = Addressing::kServices;
  s.storage_class = "standard";
  s.chain.rpc_url = "http://anvil.br2k.svc:8545";
  s.chain.chain_id = 31337;
  s.chain.registry = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
  s.chain.service_name = "logserver";
  for (int i = 0; i < 3; ++i) {
    s.secrets.files["operator-" + std::to_string(i) + ".key"] =
        "0x" + std::string(63, 'a') + std::to_string(i + 1) + "\n";
  }
  s.secrets.files["tx.key"] = "0x" + std::string(64, 'b') + "\n";
  // etcd TLS (placeholders: the golden files must not change from run to run; etcd_tls_test and
  // deploy_etcd_tls_test use real certificates).
  s.secrets.files[kEtcdCaFile] = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
  for (int i = 0; i < 3; ++i) {
    s.secrets.files[EtcdCertFile(i)] =
        "-----BEGIN CERTIFICATE-----\nNODE" + std::to_string(i) + "\n-----END CERTIFICATE-----\n";
    s.secrets.files[EtcdKeyFile(i)] =
        "-----BEGIN PRIVATE KEY-----\nKEY" + std::to_string(i) + "\n-----END PRIVATE KEY-----\n";
  }
  return s;
}

// One machine (podman kube play): host networking, no chain, no secrets.
inline DeploymentSpec LoopbackSpec() {
  DeploymentSpec s;
  s.name = "logserver";
  s.nodes = 3;
  s.app_image = "localhost/br2k-logserver" + Digest('1');
  s.etcd_image = "localhost/etcd" + Digest('2');
  s.addressing = Addressing::kLoopback;
  return s;
}

}  // namespace br2k::deploy::testing
