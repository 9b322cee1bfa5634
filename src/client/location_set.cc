#include "br2k/client/location_set.h"

#include <algorithm>

#include "br2k/client/location.h"

namespace br2k::client {

Status LocationSet::AddSeed(const std::string& location) {
  BR2K_ASSIGN_OR_RETURN(std::string url, NormalizeLocation(location));
  if (std::find(seeds_.begin(), seeds_.end(), url) == seeds_.end()) seeds_.push_back(url);
  return Status::Ok();
}

bool LocationSet::SetRegistry(const std::string& location, uint64_t epoch, std::string* error,
                              bool repaired) {
  if (has_registry_ && epoch < registry_epoch_ && !repaired) return false;
  bool changed = !has_registry_ || location != registry_raw_;
  has_registry_ = true;
  registry_epoch_ = epoch;
  if (!changed) return false;
  registry_raw_ = location;
  auto url = NormalizeLocation(location);
  if (url.ok()) {
    registry_url_ = *url;
    // A location that just changed is the freshest word on where the leader is.
    preferred_ = registry_url_;
  } else {
    registry_url_.clear();
    if (error) *error = url.status().message();
  }
  return true;
}

void LocationSet::LearnRedirect(const std::string& base_url) {
  preferred_ = base_url;
  learned_.erase(std::remove(learned_.begin(), learned_.end(), base_url), learned_.end());
  learned_.push_front(base_url);
  while (learned_.size() > max_learned_) learned_.pop_back();
}

void LocationSet::MarkAnswered(const std::string& base_url) {
  preferred_ = base_url;
}

std::vector<std::string> LocationSet::Order() const {
  std::vector<std::string> out;
  auto add = [&out](const std::string& u) {
    if (!u.empty() && std::find(out.begin(), out.end(), u) == out.end()) out.push_back(u);
  };
  add(preferred_);
  add(registry_url_);
  for (const auto& u : learned_) add(u);
  for (const auto& u : seeds_) add(u);
  return out;
}

}  // namespace br2k::client
