// GrpcWatcher: one gRPC Watch stream per watcher, read by a dedicated thread that turns
// responses into batches on a queue. When the stream breaks (member killed, partitioned: the
// "hasleader" metadata makes etcd end the stream of a member without a leader) the thread
// reconnects to the next endpoint and re-creates the watch from the next undelivered revision,
// so no event is lost or repeated.
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <thread>

#include "convert.h"
#include "grpc_impl.h"

namespace br2k::etcd {
namespace {

using Stream = grpc::ClientReaderWriter<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>;

class GrpcWatcher final : public Watcher {
 public:
  GrpcWatcher(std::shared_ptr<GrpcClient::Impl> impl, WatchOptions options)
      : impl_(std::move(impl)),
        options_(std::move(options)),
        next_revision_(options_.start_revision) {}

  ~GrpcWatcher() override {
    Cancel();
    if (thread_.joinable()) thread_.join();
  }

  // Starts the reader thread and waits until the server has created the watch.
  br2k::Status Start(Deadline deadline) {
    thread_ = std::thread([this] { Run(); });
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, deadline.when(), [&] { return created_ || !terminal_.ok(); });
    if (created_) return br2k::Status::Ok();
    br2k::Status why = !terminal_.ok() ? terminal_
                       : !last_error_.ok()
                           ? UnavailableError("etcd watch: not established before the deadline: " +
                                              last_error_.message())
                           : DeadlineExceededError("etcd watch: not established before deadline");
    lock.unlock();
    Cancel();
    return why;
  }

  Result<WatchBatch> Next(Deadline deadline) override {
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, deadline.when(),
                   [&] { return cancelled_ || !queue_.empty() || !terminal_.ok(); });
    if (cancelled_) return CancelledError("watch cancelled");
    if (!queue_.empty()) {
      WatchBatch b = std::move(queue_.front());
      queue_.pop_front();
      if (!b.events.empty()) delivered_ = b.events.back().kv.mod_revision;
      return b;
    }
    if (!terminal_.ok()) return terminal_;
    return DeadlineExceededError("no watch event before deadline");
  }

  void RequestProgress() override {
    std::lock_guard lock(write_mu_);
    if (stream_) {
      etcdserverpb::WatchRequest req;
      req.mutable_progress_request();
      stream_->Write(req);
    }
  }

  void Cancel() override {
    std::shared_ptr<grpc::ClientContext> ctx;
    {
      std::lock_guard lock(mu_);
      if (cancelled_) return;
      cancelled_ = true;
      ctx = context_;
    }
    if (ctx) ctx->TryCancel();
    cv_.notify_all();
  }

  int64_t last_revision() const override {
    std::lock_guard lock(mu_);
    return delivered_;
  }
  int64_t compact_revision() const override {
    std::lock_guard lock(mu_);
    return compact_revision_;
  }
  bool connected() const override {
    std::lock_guard lock(mu_);
    return connected_;
  }

 private:
  void Run() {
    size_t index = impl_->preferred.load();
    const size_t n = impl_->channels.size();
    while (true) {
      auto ctx = std::make_shared<grpc::ClientContext>();
      // etcd's "require leader": the member ends the stream when it loses its leader.
      ctx->AddMetadata("hasleader", "true");
      {
        std::lock_guard lock(mu_);
        if (cancelled_ || !terminal_.ok()) return;
        context_ = ctx;
      }
      const std::string& target = impl_->targets[index];
      std::unique_ptr<Stream> stream = impl_->StubsAt(index).watch->Watch(ctx.get());
      etcdserverpb::WatchRequest req;
      internal::ToProto(options_, req.mutable_create_request());
      req.mutable_create_request()->set_start_revision(next_revision_);
      bool wrote;
      {
        std::lock_guard lock(write_mu_);
        wrote = stream->Write(req);
        if (wrote) stream_ = stream.get();
      }
      bool stop = wrote ? ReadLoop(*stream) : false;
      {
        std::lock_guard lock(write_mu_);
        stream_ = nullptr;
      }
      ctx->TryCancel();
      grpc::Status st = stream->Finish();
      {
        std::lock_guard lock(mu_);
        connected_ = false;
        if (stop || cancelled_ || !terminal_.ok()) return;
        last_error_ = FromGrpc(st, target);
      }
      spdlog::debug("etcd watch on {} broke ({}); resuming at revision {} on the next member",
                    target, st.error_message(), next_revision_);
      index = (index + 1) % n;
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, impl_->options.watch_retry_interval, [&] { return cancelled_; });
    }
  }

  // Returns true when the watch has ended for good (terminal error recorded).
  bool ReadLoop(Stream& stream) {
    etcdserverpb::WatchResponse resp;
    while (stream.Read(&resp)) {
      std::lock_guard lock(mu_);
      if (resp.compact_revision() != 0) {
        compact_revision_ = resp.compact_revision();
        terminal_ = OutOfRangeError(
            "etcdserver: mvcc: required revision has been compacted "
            "(compacted at " +
            std::to_string(compact_revision_) + ")");
        created_ = true;
        cv_.notify_all();
        return true;
      }
      if (resp.canceled()) {
        terminal_ = br2k::Status(StatusCode::kFailedPrecondition,
                                 "etcd watch cancelled by server: " + resp.cancel_reason());
        cv_.notify_all();
        return true;
      }
      connected_ = true;
      if (resp.created()) {
        if (!created_ && next_revision_ == 0) next_revision_ = resp.header().revision() + 1;
        created_ = true;
        cv_.notify_all();
        if (resp.events_size() == 0) continue;
      }
      WatchBatch b;
      b.header = internal::FromProto(resp.header());
      for (const auto& e : resp.events()) {
        if (e.kv().mod_revision() < next_revision_) continue;  // already delivered
        b.events.push_back(internal::FromProto(e));
      }
      if (!b.events.empty()) {
        next_revision_ = b.events.back().kv.mod_revision + 1;
      } else if (resp.events_size() == 0) {
        // A progress notification: everything up to header.revision has been sent.
        b.progress = true;
        next_revision_ = std::max(next_revision_, resp.header().revision() + 1);
      } else {
        continue;
      }
      queue_.push_back(std::move(b));
      cv_.notify_all();
    }
    return false;
  }

  std::shared_ptr<GrpcClient::Impl> impl_;
  const WatchOptions options_;
  std::thread thread_;

  std::mutex write_mu_;       // serializes writes on the current stream
  Stream* stream_ = nullptr;  // guarded by write_mu_

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<grpc::ClientContext> context_;
  std::deque<WatchBatch> queue_;
  int64_t next_revision_;  // first revision not yet queued (0: from creation)
  int64_t delivered_ = 0;
  int64_t compact_revision_ = 0;
  br2k::Status terminal_;
  br2k::Status last_error_;
  bool created_ = false;
  bool connected_ = false;
  bool cancelled_ = false;
};

}  // namespace

Result<std::unique_ptr<Watcher>> GrpcClient::Watch(const WatchOptions& options, Deadline deadline) {
  if (deadline.expired()) return DeadlineExceededError("etcd: deadline exceeded before the call");
  auto w = std::make_unique<GrpcWatcher>(impl_, options);
  BR2K_RETURN_IF_ERROR(w->Start(deadline));
  return std::unique_ptr<Watcher>(std::move(w));
}

}  // namespace br2k::etcd
