// RPCs whose issue has not landed yet. Each answers UNIMPLEMENTED naming itself, so a
// client sees which call is missing rather than a bare code. An RPC leaves this file
// when its implementation arrives in its group's file.

#include "server/grpc_status.hpp"
#include "server/runtime_service.hpp"

namespace crio::daemon {

#define CRIO_UNIMPLEMENTED_UNARY(service, name)                                                  \
  grpc::Status service::name(grpc::ServerContext*, const v1::name##Request*, v1::name##Response*) { \
    return unimplemented(#service "." #name);                                                    \
  }
#define CRIO_UNIMPLEMENTED_STREAM(service, name)                                           \
  grpc::Status service::name(grpc::ServerContext*, const v1::name##Request*,                \
                             grpc::ServerWriter<v1::name##Response>*) {                     \
    return unimplemented(#service "." #name);                                              \
  }

CRIO_UNIMPLEMENTED_UNARY(RuntimeService, CheckpointContainer)
CRIO_UNIMPLEMENTED_UNARY(RuntimeService, ListMetricDescriptors)
CRIO_UNIMPLEMENTED_UNARY(RuntimeService, ListPodSandboxMetrics)
CRIO_UNIMPLEMENTED_STREAM(RuntimeService, StreamPodSandboxMetrics)
CRIO_UNIMPLEMENTED_UNARY(RuntimeService, UpdatePodSandboxResources)



}  // namespace crio::daemon
