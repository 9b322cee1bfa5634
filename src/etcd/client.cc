#include "br2k/etcd/client.h"

namespace br2k::etcd {

Result<std::optional<KeyValue>> Client::Get(std::string_view key, Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(RangeResponse r, Range(RangeRequest::Key(std::string(key)), deadline));
  if (r.kvs.empty()) return std::optional<KeyValue>();
  return std::optional<KeyValue>(std::move(r.kvs.front()));
}

Result<std::vector<KeyValue>> Client::GetPrefix(std::string_view prefix, Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(RangeResponse r, Range(RangeRequest::Prefix(prefix), deadline));
  return std::move(r.kvs);
}

Result<int64_t> Client::Put(std::string_view key, std::string_view value, Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(
      PutResponse r,
      Put(PutRequest{.key = std::string(key), .value = std::string(value)}, deadline));
  return r.header.revision;
}

bool IsNoSpace(const br2k::Status& st) {
  // etcd's ErrGRPCNoSpace (api/v3rpc/rpctypes): codes.ResourceExhausted with this text.
  return st.code() == StatusCode::kResourceExhausted &&
         st.message().find("database space exceeded") != std::string::npos;
}

}  // namespace br2k::etcd
