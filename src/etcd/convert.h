// Conversions between br2k's etcd value types and the generated protobuf messages (internal).
#pragma once

#include "br2k/etcd/types.h"
#include "etcd/rpc.pb.h"

namespace br2k::etcd::internal {

ResponseHeader FromProto(const etcdserverpb::ResponseHeader& h);
KeyValue FromProto(const mvccpb::KeyValue& kv);
Event FromProto(const mvccpb::Event& e);
RangeResponse FromProto(const etcdserverpb::RangeResponse& r);
PutResponse FromProto(const etcdserverpb::PutResponse& r);
DeleteResponse FromProto(const etcdserverpb::DeleteRangeResponse& r);
TxnResponse FromProto(const etcdserverpb::TxnResponse& r);
MemberStatus FromProto(const etcdserverpb::StatusResponse& r);
MemberListResponse FromProto(const etcdserverpb::MemberListResponse& r);

void ToProto(const RangeRequest& in, etcdserverpb::RangeRequest* out);
void ToProto(const PutRequest& in, etcdserverpb::PutRequest* out);
void ToProto(const DeleteRequest& in, etcdserverpb::DeleteRangeRequest* out);
void ToProto(const TxnRequest& in, etcdserverpb::TxnRequest* out);
void ToProto(const WatchOptions& in, etcdserverpb::WatchCreateRequest* out);

}  // namespace br2k::etcd::internal
