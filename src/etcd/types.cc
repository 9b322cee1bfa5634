#include "br2k/etcd/types.h"

namespace br2k::etcd {

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  // Increment the last byte that is not 0xff, dropping the 0xff bytes after it.
  while (!end.empty()) {
    auto& c = reinterpret_cast<unsigned char&>(end.back());
    if (c < 0xff) {
      ++c;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // no upper bound: every key >= prefix
}

Compare Compare::Value(std::string key, CompareOp op, std::string value) {
  return Compare{
      .key = std::move(key), .target = CompareTarget::kValue, .op = op, .value = std::move(value)};
}
Compare Compare::Version(std::string key, CompareOp op, int64_t version) {
  return Compare{
      .key = std::move(key), .target = CompareTarget::kVersion, .op = op, .number = version};
}
Compare Compare::CreateRevision(std::string key, CompareOp op, int64_t revision) {
  return Compare{
      .key = std::move(key), .target = CompareTarget::kCreate, .op = op, .number = revision};
}
Compare Compare::ModRevision(std::string key, CompareOp op, int64_t revision) {
  return Compare{
      .key = std::move(key), .target = CompareTarget::kMod, .op = op, .number = revision};
}
Compare Compare::Lease(std::string key, CompareOp op, int64_t lease) {
  return Compare{.key = std::move(key), .target = CompareTarget::kLease, .op = op, .number = lease};
}

bool MemberStatus::nospace_alarm() const {
  for (const auto& e : errors) {
    if (e.find("NOSPACE") != std::string::npos) return true;
  }
  return false;
}

}  // namespace br2k::etcd
