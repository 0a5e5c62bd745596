#include "server/grpc_status.hpp"

#include <crio/core/log.hpp>

#include <fmt/format.h>

#include <chrono>

namespace crio::daemon {
namespace {

class CallLogInterceptor : public grpc::experimental::Interceptor {
 public:
  CallLogInterceptor(grpc::experimental::ServerRpcInfo* info, const CallObserver& observer)
      : method_(info->method()), start_(std::chrono::steady_clock::now()), observer_(observer) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    const bool debug = log::enabled(log::Level::kDebug);
    if ((observer_ || debug) && methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const auto took = std::chrono::steady_clock::now() - start_;
      grpc::Status status = methods->GetSendStatus();
      if (observer_) {
        auto slash = method_.rfind('/');
        observer_(slash == std::string::npos ? method_ : method_.substr(slash + 1), took, !status.ok());
      }
      if (debug) {
        auto micros = std::chrono::duration_cast<std::chrono::microseconds>(took);
        log::debug("gRPC call", {{"method", method_},
                                 {"duration", fmt::format("{:.3f}ms", static_cast<double>(micros.count()) / 1000.0)},
                                 {"code", code_name(static_cast<Code>(status.error_code()))},
                                 {"error", status.error_message()}});
      }
    }
    methods->Proceed();
  }

 private:
  std::string method_;
  std::chrono::steady_clock::time_point start_;
  const CallObserver& observer_;
};

}  // namespace

grpc::Status to_grpc(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), status.message());
}

grpc::Status unimplemented(std::string_view rpc) {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, fmt::format("{} is not implemented yet", rpc));
}

grpc::experimental::Interceptor* CallLogInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new CallLogInterceptor(info, observer_);
}

}  // namespace crio::daemon
