#include "br2k/kube/api_errors.h"

#include <nlohmann/json.hpp>

namespace br2k::kube {
namespace {

// A Status object is small; anything much larger is not one (and is not worth parsing).
constexpr size_t kMaxParsedBody = 64 * 1024;

StatusCode CodeFor(int http_status, std::string_view reason) {
  if (http_status >= 200 && http_status < 300) return StatusCode::kOk;
  switch (http_status) {
    case 400:
    case 413:
    case 415:
    case 422:
      return StatusCode::kInvalidArgument;
    case 401:
      return StatusCode::kUnauthenticated;
    case 403:
      return StatusCode::kPermissionDenied;
    case 404:
      return StatusCode::kNotFound;
    case 405:
      return StatusCode::kUnimplemented;
    case 409:
      return reason == "AlreadyExists" ? StatusCode::kAlreadyExists : StatusCode::kAborted;
    case 410:
      return StatusCode::kAborted;  // Expired/Gone: a resourceVersion too old; list again
    case 429:
      return StatusCode::kUnavailable;
    default:
      break;
  }
  if (http_status >= 500 && http_status < 600) return StatusCode::kUnavailable;
  return StatusCode::kUnknown;
}

std::string StringField(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string EscapeForMessage(std::string_view text, size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 3);
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    char piece[4];
    size_t n = 0;
    if (c == '\\') {
      piece[n++] = '\\';
      piece[n++] = '\\';
    } else if (c >= 0x20 && c < 0x7f) {
      piece[n++] = ch;
    } else {
      piece[n++] = '\\';
      piece[n++] = 'x';
      piece[n++] = kHex[c >> 4];
      piece[n++] = kHex[c & 0xf];
    }
    if (out.size() + n > max_bytes) {
      out += "...";
      return out;
    }
    out.append(piece, n);
  }
  return out;
}

Status StatusFromApiError(int http_status, std::string_view body) {
  std::string reason;
  std::string message;
  bool is_status_object = false;
  if (!body.empty() && body.size() <= kMaxParsedBody) {
    // No exceptions: a malformed body yields a discarded value.
    nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && StringField(j, "kind") == "Status") {
      is_status_object = true;
      reason = StringField(j, "reason");
      message = StringField(j, "message");
    }
  }
  StatusCode code = CodeFor(http_status, reason);
  if (code == StatusCode::kOk) return Status::Ok();

  std::string text = "kubernetes API: HTTP " + std::to_string(http_status);
  if (!reason.empty()) text += " " + EscapeForMessage(reason, 64);
  if (http_status == 409 && reason == "Conflict") {
    text += " (field manager conflict or concurrent update)";
  }
  if (is_status_object) {
    if (!message.empty()) text += ": " + EscapeForMessage(message);
  } else if (!body.empty()) {
    text += ": " + EscapeForMessage(body);
  }
  return Status(code, std::move(text));
}

}  // namespace br2k::kube
