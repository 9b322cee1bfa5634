#include "convert.h"

namespace br2k::etcd::internal {

ResponseHeader FromProto(const etcdserverpb::ResponseHeader& h) {
  return ResponseHeader{.cluster_id = h.cluster_id(),
                        .member_id = h.member_id(),
                        .revision = h.revision(),
                        .raft_term = h.raft_term()};
}

KeyValue FromProto(const mvccpb::KeyValue& kv) {
  return KeyValue{.key = kv.key(),
                  .value = kv.value(),
                  .create_revision = kv.create_revision(),
                  .mod_revision = kv.mod_revision(),
                  .version = kv.version(),
                  .lease = kv.lease()};
}

Event FromProto(const mvccpb::Event& e) {
  Event out;
  out.type = e.type() == mvccpb::Event::DELETE ? Event::Type::kDelete : Event::Type::kPut;
  out.kv = FromProto(e.kv());
  if (e.has_prev_kv()) out.prev_kv = FromProto(e.prev_kv());
  return out;
}

RangeResponse FromProto(const etcdserverpb::RangeResponse& r) {
  RangeResponse out{.header = FromProto(r.header()), .more = r.more(), .count = r.count()};
  out.kvs.reserve(static_cast<size_t>(r.kvs_size()));
  for (const auto& kv : r.kvs()) out.kvs.push_back(FromProto(kv));
  return out;
}

PutResponse FromProto(const etcdserverpb::PutResponse& r) {
  PutResponse out{.header = FromProto(r.header())};
  if (r.has_prev_kv()) out.prev_kv = FromProto(r.prev_kv());
  return out;
}

DeleteResponse FromProto(const etcdserverpb::DeleteRangeResponse& r) {
  DeleteResponse out{.header = FromProto(r.header()), .deleted = r.deleted()};
  for (const auto& kv : r.prev_kvs()) out.prev_kvs.push_back(FromProto(kv));
  return out;
}

TxnResponse FromProto(const etcdserverpb::TxnResponse& r) {
  TxnResponse out{.header = FromProto(r.header()), .succeeded = r.succeeded()};
  for (const auto& op : r.responses()) {
    OpResponse o;
    switch (op.response_case()) {
      case etcdserverpb::ResponseOp::kResponseRange:
        o.response = FromProto(op.response_range());
        break;
      case etcdserverpb::ResponseOp::kResponsePut:
        o.response = FromProto(op.response_put());
        break;
      case etcdserverpb::ResponseOp::kResponseDeleteRange:
        o.response = FromProto(op.response_delete_range());
        break;
      case etcdserverpb::ResponseOp::kResponseTxn:
        o.response = Box<TxnResponse>(FromProto(op.response_txn()));
        break;
      case etcdserverpb::ResponseOp::RESPONSE_NOT_SET:
        break;
    }
    out.responses.push_back(std::move(o));
  }
  return out;
}

MemberStatus FromProto(const etcdserverpb::StatusResponse& r) {
  MemberStatus out;
  out.header = FromProto(r.header());
  out.version = r.version();
  out.db_size = r.dbsize();
  out.db_size_in_use = r.dbsizeinuse();
  out.leader = r.leader();
  out.raft_index = r.raftindex();
  out.raft_term = r.raftterm();
  out.raft_applied_index = r.raftappliedindex();
  out.errors.assign(r.errors().begin(), r.errors().end());
  return out;
}

MemberListResponse FromProto(const etcdserverpb::MemberListResponse& r) {
  MemberListResponse out{.header = FromProto(r.header())};
  for (const auto& m : r.members()) {
    out.members.push_back(Member{.id = m.id(),
                                 .name = m.name(),
                                 .peer_urls = {m.peerurls().begin(), m.peerurls().end()},
                                 .client_urls = {m.clienturls().begin(), m.clienturls().end()},
                                 .is_learner = m.islearner()});
  }
  return out;
}

void ToProto(const RangeRequest& in, etcdserverpb::RangeRequest* out) {
  out->set_key(in.key);
  out->set_range_end(in.range_end);
  out->set_limit(in.limit);
  out->set_revision(in.revision);
  out->set_serializable(in.serializable);
  out->set_keys_only(in.keys_only);
  out->set_count_only(in.count_only);
  out->set_sort_order(static_cast<etcdserverpb::RangeRequest::SortOrder>(in.sort_order));
  out->set_sort_target(static_cast<etcdserverpb::RangeRequest::SortTarget>(in.sort_target));
}

void ToProto(const PutRequest& in, etcdserverpb::PutRequest* out) {
  out->set_key(in.key);
  out->set_value(in.value);
  out->set_lease(in.lease);
  out->set_prev_kv(in.prev_kv);
}

void ToProto(const DeleteRequest& in, etcdserverpb::DeleteRangeRequest* out) {
  out->set_key(in.key);
  out->set_range_end(in.range_end);
  out->set_prev_kv(in.prev_kv);
}

namespace {
void ToProto(const Compare& in, etcdserverpb::Compare* out) {
  out->set_key(in.key);
  out->set_range_end(in.range_end);
  out->set_result(static_cast<etcdserverpb::Compare::CompareResult>(in.op));
  switch (in.target) {
    case CompareTarget::kVersion:
      out->set_target(etcdserverpb::Compare::VERSION);
      out->set_version(in.number);
      break;
    case CompareTarget::kCreate:
      out->set_target(etcdserverpb::Compare::CREATE);
      out->set_create_revision(in.number);
      break;
    case CompareTarget::kMod:
      out->set_target(etcdserverpb::Compare::MOD);
      out->set_mod_revision(in.number);
      break;
    case CompareTarget::kValue:
      out->set_target(etcdserverpb::Compare::VALUE);
      out->set_value(in.value);
      break;
    case CompareTarget::kLease:
      out->set_target(etcdserverpb::Compare::LEASE);
      out->set_lease(in.number);
      break;
  }
}

void ToProto(const Op& in, etcdserverpb::RequestOp* out) {
  if (auto* r = std::get_if<RangeRequest>(&in.request)) {
    internal::ToProto(*r, out->mutable_request_range());
  } else if (auto* p = std::get_if<PutRequest>(&in.request)) {
    internal::ToProto(*p, out->mutable_request_put());
  } else if (auto* d = std::get_if<DeleteRequest>(&in.request)) {
    internal::ToProto(*d, out->mutable_request_delete_range());
  } else if (auto* t = std::get_if<Box<TxnRequest>>(&in.request)) {
    internal::ToProto(**t, out->mutable_request_txn());
  }
}
}  // namespace

void ToProto(const TxnRequest& in, etcdserverpb::TxnRequest* out) {
  for (const auto& c : in.compare) ToProto(c, out->add_compare());
  for (const auto& op : in.success) ToProto(op, out->add_success());
  for (const auto& op : in.failure) ToProto(op, out->add_failure());
}

void ToProto(const WatchOptions& in, etcdserverpb::WatchCreateRequest* out) {
  out->set_key(in.key);
  out->set_range_end(in.range_end);
  out->set_start_revision(in.start_revision);
  out->set_prev_kv(in.prev_kv);
  out->set_progress_notify(in.progress_notify);
}

}  // namespace br2k::etcd::internal
