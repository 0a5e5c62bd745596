#pragma once
// The one place where library errors become gRPC statuses, and where every call
// is logged (method, duration, code) at debug level.

#include <crio/core/status.hpp>

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <string_view>

namespace crio::daemon {

grpc::Status to_grpc(const Status& status);

// "RuntimeService.Exec is not implemented yet"
grpc::Status unimplemented(std::string_view rpc);

// Logs each call once its status is about to be sent.
class CallLogInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override;
};

}  // namespace crio::daemon
