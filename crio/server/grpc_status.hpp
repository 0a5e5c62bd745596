#pragma once
// The one place where library errors become gRPC statuses, and where every call
// is logged (method, duration, code) at debug level.

#include <crio/core/status.hpp>

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace crio::daemon {

grpc::Status to_grpc(const Status& status);

// "RuntimeService.Exec is not implemented yet"
grpc::Status unimplemented(std::string_view rpc);

// Told of each call as it ends: the operation as CRI-O names it (the method's last path
// element, "Version"), how long it took and whether it failed.
using CallObserver =
    std::function<void(const std::string& operation, std::chrono::steady_clock::duration took, bool failed)>;

// Logs each call once its status is about to be sent, and tells `observer` (if any).
class CallLogInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CallLogInterceptorFactory(CallObserver observer = {}) : observer_(std::move(observer)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override;

 private:
  CallObserver observer_;
};

}  // namespace crio::daemon
