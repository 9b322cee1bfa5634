#include "br2k/deploy/etcd_tls.h"

namespace br2k::deploy {

Result<EtcdClientTls> AddEtcdTls(DeploymentSpec& spec) {
  BR2K_ASSIGN_OR_RETURN(CertificateAndKey ca,
                        GenerateCa({.common_name = "br2k " + spec.name + " etcd CA"}));
  if (spec.secrets.files.empty()) {
    spec.secrets.existing.clear();  // `files` names the Secret from now on
  }
  spec.secrets.files[kEtcdCaFile] = ca.cert_pem;
  for (size_t i = 0; i < spec.nodes; ++i) {
    LeafOptions leaf{.common_name = spec.PodName(i), .dns_names = {"localhost"}};
    if (spec.addressing == Addressing::kServices) {
      // Peers dial "<pod>.<ns>.svc" (spec.NodeHost); the long form is what the cluster's DNS
      // search path may hand out.
      leaf.dns_names.push_back(spec.NodeHost(i));
      leaf.dns_names.push_back(spec.NodeHost(i) + ".cluster.local");
    }
    BR2K_ASSIGN_OR_RETURN(CertificateAndKey node, IssueCertificate(ca, leaf));
    spec.secrets.files[EtcdCertFile(i)] = node.cert_pem;
    spec.secrets.files[EtcdKeyFile(i)] = node.key_pem;
  }
  BR2K_ASSIGN_OR_RETURN(CertificateAndKey client,
                        IssueCertificate(ca, {.common_name = "br2k-operator"}));
  return EtcdClientTls{.ca_pem = ca.cert_pem, .client = std::move(client)};
}

}  // namespace br2k::deploy
