#include "br2k/etcd/tls.h"

#include <fstream>
#include <sstream>

namespace br2k::etcd {
namespace {

// PEM files are small; anything larger is not one of ours.
constexpr std::streamsize kMaxPemBytes = 1 << 20;

Result<std::string> ReadPem(const std::string& file, const char* flag) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return NotFoundError(std::string(flag) + ": cannot read '" + file + "'");
  std::string text(static_cast<size_t>(kMaxPemBytes) + 1, '\0');
  in.read(text.data(), kMaxPemBytes + 1);
  if (in.bad()) return NotFoundError(std::string(flag) + ": error reading '" + file + "'");
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > static_cast<size_t>(kMaxPemBytes)) {
    return InvalidArgumentError(std::string(flag) + ": '" + file + "' is larger than 1 MiB");
  }
  if (text.find("-----BEGIN ") == std::string::npos) {
    return InvalidArgumentError(std::string(flag) + ": '" + file + "' holds no PEM block");
  }
  return text;
}

}  // namespace

Status EtcdTls::Check() const {
  if (ca_pem.empty() == cert_pem.empty() && cert_pem.empty() == key_pem.empty()) {
    return Status::Ok();
  }
  return InvalidArgumentError(
      "etcd TLS needs the CA, the client certificate and its key together (got " +
      std::string(ca_pem.empty() ? "" : "CA ") + (cert_pem.empty() ? "" : "certificate ") +
      (key_pem.empty() ? "" : "key ") + "only)");
}

Result<EtcdTls> LoadTlsFiles(const std::string& ca_file, const std::string& cert_file,
                             const std::string& key_file) {
  if (ca_file.empty() && cert_file.empty() && key_file.empty()) return EtcdTls{};
  struct Want {
    const std::string& file;
    const char* flag;
  };
  for (const Want& w :
       {Want{ca_file, "--etcd-ca"}, Want{cert_file, "--etcd-cert"}, Want{key_file, "--etcd-key"}}) {
    if (w.file.empty()) {
      return InvalidArgumentError(std::string(w.flag) +
                                  " is missing: --etcd-ca, --etcd-cert and --etcd-key go together");
    }
  }
  EtcdTls tls;
  BR2K_ASSIGN_OR_RETURN(tls.ca_pem, ReadPem(ca_file, "--etcd-ca"));
  BR2K_ASSIGN_OR_RETURN(tls.cert_pem, ReadPem(cert_file, "--etcd-cert"));
  BR2K_ASSIGN_OR_RETURN(tls.key_pem, ReadPem(key_file, "--etcd-key"));
  return tls;
}

}  // namespace br2k::etcd
