// The deployment CA and its certificates, with OpenSSL 3 (EVP_EC_gen, X509_*, X509V3_*).
#include "br2k/deploy/pki.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace br2k::deploy {
namespace {

template <typename T, void (*F)(T*)>
struct Free {
  void operator()(T* p) const { F(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Free<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Free<BIO, BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Free<BIGNUM, BN_free>>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, Free<GENERAL_NAMES, GENERAL_NAMES_free>>;

// The error queue's last entry, cleared, for messages.
std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

Status Internal(const std::string& what) {
  return InternalError("pki: " + what + ": " + OpenSslError());
}

Status CheckValidity(std::chrono::hours validity) {
  if (validity < std::chrono::hours(1) || validity > kMaxCertificateValidity) {
    return InvalidArgumentError("pki: validity must be between 1 hour and " +
                                std::to_string(kMaxCertificateValidity.count()) + " hours");
  }
  return Status::Ok();
}

Status CheckCommonName(const std::string& cn) {
  // RFC 5280's upper bound for commonName.
  if (cn.empty() || cn.size() > 64) {
    return InvalidArgumentError("pki: common name must have 1..64 characters");
  }
  return Status::Ok();
}

bool ValidDnsName(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  size_t start = name.rfind("*.", 0) == 0 ? 2 : 0;
  if (start == name.size()) return false;
  size_t label = 0;
  for (size_t i = start; i < name.size(); ++i) {
    char c = name[i];
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok || ++label > 63) return false;
  }
  return label > 0;
}

Result<KeyPtr> NewKey() {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return Internal("generating an EC P-256 key");
  return key;
}

// A certificate with version 3, a random 159-bit serial, validity [now - 5 min, now + validity]
// and `subject` as its subject name.
Result<CertPtr> NewCertificate(const std::string& common_name, std::chrono::hours validity,
                               EVP_PKEY* key) {
  CertPtr cert(X509_new());
  if (!cert) return Internal("X509_new");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) return Internal("X509_set_version");
  BnPtr serial(BN_new());
  // Positive and below 2^159 so its DER encoding stays within RFC 5280's 20 octets.
  if (!serial || BN_rand(serial.get(), 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return Internal("making a serial number");
  }
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -300) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(validity.count()) * 3600) ==
          nullptr) {
    return Internal("setting the validity");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>("br2k"), -1, -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()),
                                 static_cast<int>(common_name.size()), -1, 0) != 1) {
    return Internal("setting the subject name");
  }
  if (X509_set_pubkey(cert.get(), key) != 1) return Internal("X509_set_pubkey");
  return cert;
}

// Adds the extension `nid` with OpenSSL's configuration text `value` (fixed strings only).
Status AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return Internal(std::string("building extension ") + OBJ_nid2sn(nid));
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) return Internal(std::string("adding extension ") + OBJ_nid2sn(nid));
  return Status::Ok();
}

// The subject alternative names, built as GENERAL_NAMEs (never through configuration text, so
// no name can smuggle in another).
Status AddSubjectAltNames(X509* cert, const LeafOptions& options) {
  NamesPtr names(sk_GENERAL_NAME_new_null());
  if (!names) return Internal("allocating names");
  for (const auto& ip : options.ip_addresses) {
    ASN1_OCTET_STRING* bytes = a2i_IPADDRESS(ip.c_str());
    if (bytes == nullptr) {
      ERR_clear_error();
      return InvalidArgumentError("pki: '" + ip + "' is not an IP address");
    }
    GENERAL_NAME* g = GENERAL_NAME_new();
    if (g == nullptr) {
      ASN1_OCTET_STRING_free(bytes);
      return Internal("GENERAL_NAME_new");
    }
    GENERAL_NAME_set0_value(g, GEN_IPADD, bytes);
    sk_GENERAL_NAME_push(names.get(), g);
  }
  for (const auto& dns : options.dns_names) {
    if (!ValidDnsName(dns)) return InvalidArgumentError("pki: '" + dns + "' is not a DNS name");
    ASN1_IA5STRING* text = ASN1_IA5STRING_new();
    GENERAL_NAME* g = GENERAL_NAME_new();
    if (text == nullptr || g == nullptr ||
        ASN1_STRING_set(text, dns.data(), static_cast<int>(dns.size())) != 1) {
      ASN1_IA5STRING_free(text);
      GENERAL_NAME_free(g);
      return Internal("building a DNS name");
    }
    GENERAL_NAME_set0_value(g, GEN_DNS, text);
    sk_GENERAL_NAME_push(names.get(), g);
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return Internal("adding the subject alternative names");
  }
  return Status::Ok();
}

Result<CertificateAndKey> ToPem(X509* cert, EVP_PKEY* key) {
  BioPtr cert_bio(BIO_new(BIO_s_mem()));
  BioPtr key_bio(BIO_new(BIO_s_mem()));
  if (!cert_bio || !key_bio || PEM_write_bio_X509(cert_bio.get(), cert) != 1 ||
      PEM_write_bio_PrivateKey(key_bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Internal("writing PEM");
  }
  auto text = [](BIO* bio) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<size_t>(n));
  };
  return CertificateAndKey{.cert_pem = text(cert_bio.get()), .key_pem = text(key_bio.get())};
}

Status Sign(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0) return Internal("signing");
  return Status::Ok();
}

}  // namespace

Result<CertificateAndKey> GenerateCa(const CaOptions& options) {
  BR2K_RETURN_IF_ERROR(CheckCommonName(options.common_name));
  BR2K_RETURN_IF_ERROR(CheckValidity(options.validity));
  BR2K_ASSIGN_OR_RETURN(KeyPtr key, NewKey());
  BR2K_ASSIGN_OR_RETURN(CertPtr cert,
                        NewCertificate(options.common_name, options.validity, key.get()));
  X509* c = cert.get();
  if (X509_set_issuer_name(c, X509_get_subject_name(c)) != 1) return Internal("issuer name");
  BR2K_RETURN_IF_ERROR(AddExtension(c, c, NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  BR2K_RETURN_IF_ERROR(AddExtension(c, c, NID_key_usage, "critical,keyCertSign,cRLSign"));
  BR2K_RETURN_IF_ERROR(AddExtension(c, c, NID_subject_key_identifier, "hash"));
  BR2K_RETURN_IF_ERROR(Sign(c, key.get()));
  return ToPem(c, key.get());
}

Result<CertificateAndKey> IssueCertificate(const CertificateAndKey& ca,
                                           const LeafOptions& options) {
  BR2K_RETURN_IF_ERROR(CheckCommonName(options.common_name));
  BR2K_RETURN_IF_ERROR(CheckValidity(options.validity));
  if (options.ip_addresses.empty() && options.dns_names.empty()) {
    return InvalidArgumentError("pki: a certificate needs at least one IP address or DNS name");
  }
  if (ca.cert_pem.size() > (1 << 20) || ca.key_pem.size() > (1 << 20)) {
    return InvalidArgumentError("pki: the CA certificate or key is larger than 1 MiB");
  }
  BioPtr ca_cert_bio(BIO_new_mem_buf(ca.cert_pem.data(), static_cast<int>(ca.cert_pem.size())));
  BioPtr ca_key_bio(BIO_new_mem_buf(ca.key_pem.data(), static_cast<int>(ca.key_pem.size())));
  if (!ca_cert_bio || !ca_key_bio) return Internal("BIO_new_mem_buf");
  // An empty passphrase callback: an encrypted key fails instead of prompting on the terminal.
  pem_password_cb* no_prompt = [](char*, int, int, void*) { return 0; };
  CertPtr ca_cert(PEM_read_bio_X509(ca_cert_bio.get(), nullptr, no_prompt, nullptr));
  KeyPtr ca_key(PEM_read_bio_PrivateKey(ca_key_bio.get(), nullptr, no_prompt, nullptr));
  if (!ca_cert || !ca_key) {
    ERR_clear_error();
    return InvalidArgumentError("pki: the CA certificate or key is not readable PEM");
  }
  if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1) {
    ERR_clear_error();
    return InvalidArgumentError("pki: the CA key does not match the CA certificate");
  }
  if (X509_check_ca(ca_cert.get()) == 0) {
    return InvalidArgumentError("pki: the CA certificate is not a CA certificate");
  }
  // What issuing needs of the CA, checked here so that a damaged or foreign CA is
  // INVALID_ARGUMENT, not an OpenSSL failure further down (found by fuzz_deploy_pki_ca: a CA
  // certificate without a subject key identifier failed the authority key identifier).
  if (X509_get0_subject_key_id(ca_cert.get()) == nullptr) {
    return InvalidArgumentError("pki: the CA certificate has no subject key identifier");
  }
  const int ca_key_type = EVP_PKEY_get_base_id(ca_key.get());
  if (ca_key_type != EVP_PKEY_EC && ca_key_type != EVP_PKEY_RSA) {
    return InvalidArgumentError("pki: the CA key is neither EC nor RSA (it signs with SHA-256)");
  }
  if (ASN1_TIME_compare(X509_get0_notAfter(ca_cert.get()), X509_get0_notBefore(ca_cert.get())) ==
      -2) {
    ERR_clear_error();
    return InvalidArgumentError("pki: the CA certificate's validity cannot be read");
  }

  BR2K_ASSIGN_OR_RETURN(KeyPtr key, NewKey());
  BR2K_ASSIGN_OR_RETURN(CertPtr cert,
                        NewCertificate(options.common_name, options.validity, key.get()));
  X509* c = cert.get();
  if (X509_set_issuer_name(c, X509_get_subject_name(ca_cert.get())) != 1) {
    return Internal("issuer name");
  }
  // Never valid beyond the CA: a chain with an expired CA fails anyway, and saying so in the
  // leaf keeps `openssl x509 -enddate` honest.
  if (ASN1_TIME_compare(X509_get0_notAfter(ca_cert.get()), X509_get0_notAfter(c)) < 0 &&
      X509_set1_notAfter(c, X509_get0_notAfter(ca_cert.get())) != 1) {
    return Internal("capping the validity");
  }
  BR2K_RETURN_IF_ERROR(AddExtension(c, ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  BR2K_RETURN_IF_ERROR(AddExtension(c, ca_cert.get(), NID_key_usage, "critical,digitalSignature"));
  BR2K_RETURN_IF_ERROR(AddExtension(c, ca_cert.get(), NID_ext_key_usage, "serverAuth,clientAuth"));
  BR2K_RETURN_IF_ERROR(AddExtension(c, ca_cert.get(), NID_subject_key_identifier, "hash"));
  BR2K_RETURN_IF_ERROR(AddExtension(c, ca_cert.get(), NID_authority_key_identifier, "keyid"));
  BR2K_RETURN_IF_ERROR(AddSubjectAltNames(c, options));
  BR2K_RETURN_IF_ERROR(Sign(c, ca_key.get()));
  return ToPem(c, key.get());
}

}  // namespace br2k::deploy
