#include "br2k/client/answer.h"

#include <charconv>
#include <string_view>

namespace br2k::client {
namespace {

const std::string* Find(const Headers& h, const char* name) {
  auto it = h.find(name);
  return it == h.end() ? nullptr : &it->second;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool Printable(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return false;
  }
  return true;
}

void AddError(Br2kHeaders& out, const std::string& what, std::string_view value) {
  std::string v(value.substr(0, 64));
  for (auto& c : v) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  if (!out.error.empty()) out.error += "; ";
  out.error += "bad " + what + " '" + v + "'";
}

}  // namespace

AnswerClass ClassifyAnswer(int status, const Headers& headers) {
  switch (status) {
    case 307:
    case 308:
      return AnswerClass::kRedirect;
    case 408:
    case 429:
    case 502:
    case 503:
    case 504:
      return AnswerClass::kRetry;
    case 500:
      // A replica's own failure carries no X-Br2k-State; an application's 500 answer does
      // (it was logged and settled), and retrying it would only return it again.
      return Find(headers, "x-br2k-state") ? AnswerClass::kFinal : AnswerClass::kRetry;
    default:
      return AnswerClass::kFinal;
  }
}

const char* AnswerClassName(AnswerClass c) {
  switch (c) {
    case AnswerClass::kFinal:
      return "final";
    case AnswerClass::kRetry:
      return "retry";
    case AnswerClass::kRedirect:
      return "redirect";
  }
  return "?";
}

Br2kHeaders ParseBr2kHeaders(const Headers& headers) {
  Br2kHeaders out;
  if (const auto* v = Find(headers, "x-br2k-index")) {
    std::string_view s = Trim(*v);
    uint64_t i = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || i == 0) {
      AddError(out, "X-Br2k-Index", *v);
    } else {
      out.index = i;
    }
  }
  if (const auto* v = Find(headers, "x-br2k-state")) {
    std::string_view s = Trim(*v);
    if (s.empty() || s.size() > 32 || !Printable(s)) {
      AddError(out, "X-Br2k-State", *v);
    } else {
      out.state = std::string(s);
    }
  }
  if (const auto* v = Find(headers, "x-br2k-duplicate")) {
    std::string_view s = Trim(*v);
    if (s == "true") {
      out.duplicate = true;
    } else if (s != "false") {
      AddError(out, "X-Br2k-Duplicate", *v);
    }
  }
  if (const auto* v = Find(headers, "x-br2k-leader")) {
    std::string_view s = Trim(*v);
    if (s.size() > 256 || !Printable(s)) {
      AddError(out, "X-Br2k-Leader", *v);
    } else {
      out.leader = std::string(s);
    }
  }
  if (const auto* v = Find(headers, "x-br2k-leader-url")) {
    out.leader_url = std::string(Trim(*v));
  }
  if (const auto* v = Find(headers, "location")) {
    out.location = std::string(Trim(*v));
  }
  return out;
}

}  // namespace br2k::client
