// Fuzz target: the Kubernetes API error mapping (the body comes from the API server, or from
// whatever answers at its address: a proxy's HTML page, garbage). Input: two bytes of HTTP status
// (big-endian, folded into 100..699), then the body.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "br2k/kube/api_errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  int http_status = 100 + ((data[0] << 8) | data[1]) % 600;
  std::string_view body(reinterpret_cast<const char*>(data) + 2, size - 2);
  br2k::Status st = br2k::kube::StatusFromApiError(http_status, body);
  // Success exactly for 2xx.
  if (st.ok() != (http_status >= 200 && http_status < 300)) __builtin_trap();
  if (http_status == 401 && st.code() != br2k::StatusCode::kUnauthenticated) __builtin_trap();
  if (http_status == 403 && st.code() != br2k::StatusCode::kPermissionDenied) __builtin_trap();
  if (http_status == 404 && st.code() != br2k::StatusCode::kNotFound) __builtin_trap();
  if (http_status >= 500 && http_status < 600 && st.code() != br2k::StatusCode::kUnavailable) {
    __builtin_trap();
  }
  // Server text is quoted safely: bounded, printable ASCII only.
  if (st.message().size() > 700) __builtin_trap();
  for (char c : st.message()) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      __builtin_trap();
    }
  }
  return 0;
}
