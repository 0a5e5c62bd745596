#pragma once
// runtime.v1.RuntimeService: translates CRI messages to library calls and back.
// The RPCs are defined one group per file (runtime_info.cpp, ...); the ones whose
// issue has not landed yet answer UNIMPLEMENTED with their name (unimplemented.cpp).

#include "cni_manager.hpp"
#include "containers.hpp"
#include "images.hpp"
#include "pods.hpp"
#include "readiness.hpp"
#include "stream/server.hpp"

#include <crio/core/config.hpp>

#include "cri_api.hpp"

#include <nlohmann/json.hpp>

namespace crio::daemon {

namespace v1 = ::runtime::v1;

// The OCI spec in `bundle`/config.json for the verbose status info ("runtimeSpec"),
// null when it cannot be read. Read on demand: verbose status is for people, not the
// kubelet's polling.
nlohmann::json runtime_spec_of(const std::string& bundle);

#define CRIO_UNARY_RPC(name) \
  grpc::Status name(grpc::ServerContext* context, const v1::name##Request* request, v1::name##Response* response) override
#define CRIO_STREAM_RPC(name)                                                        \
  grpc::Status name(grpc::ServerContext* context, const v1::name##Request* request, \
                    grpc::ServerWriter<v1::name##Response>* writer) override

class RuntimeService final : public v1::RuntimeService::Service {
 public:
  RuntimeService(const core::Config& config, const LiveConfig& live, RuntimeReadiness& readiness, CniManager& cni, Pods& pods,
                 Containers& containers, stream::Server& streams)
      : config_(config), live_(live), readiness_(readiness), cni_(cni), pods_(pods), containers_(containers), streams_(streams) {}

  CRIO_UNARY_RPC(Version);
  CRIO_UNARY_RPC(Status);
  CRIO_UNARY_RPC(RuntimeConfig);
  CRIO_UNARY_RPC(UpdateRuntimeConfig);

  CRIO_UNARY_RPC(RunPodSandbox);
  CRIO_UNARY_RPC(StopPodSandbox);
  CRIO_UNARY_RPC(RemovePodSandbox);
  CRIO_UNARY_RPC(PodSandboxStatus);
  CRIO_UNARY_RPC(ListPodSandbox);
  CRIO_STREAM_RPC(StreamPodSandboxes);
  CRIO_UNARY_RPC(CreateContainer);
  CRIO_UNARY_RPC(StartContainer);
  CRIO_UNARY_RPC(StopContainer);
  CRIO_UNARY_RPC(RemoveContainer);
  CRIO_UNARY_RPC(ListContainers);
  CRIO_STREAM_RPC(StreamContainers);
  CRIO_UNARY_RPC(ContainerStatus);
  CRIO_UNARY_RPC(UpdateContainerResources);
  CRIO_UNARY_RPC(ReopenContainerLog);
  CRIO_UNARY_RPC(ExecSync);
  CRIO_UNARY_RPC(Exec);
  CRIO_UNARY_RPC(Attach);
  CRIO_UNARY_RPC(PortForward);
  CRIO_UNARY_RPC(ContainerStats);
  CRIO_UNARY_RPC(ListContainerStats);
  CRIO_STREAM_RPC(StreamContainerStats);
  CRIO_UNARY_RPC(PodSandboxStats);
  CRIO_UNARY_RPC(ListPodSandboxStats);
  CRIO_STREAM_RPC(StreamPodSandboxStats);
  CRIO_UNARY_RPC(CheckpointContainer);
  grpc::Status GetContainerEvents(grpc::ServerContext* context, const v1::GetEventsRequest* request,
                                  grpc::ServerWriter<v1::ContainerEventResponse>* writer) override;
  CRIO_UNARY_RPC(ListMetricDescriptors);
  CRIO_UNARY_RPC(ListPodSandboxMetrics);
  CRIO_STREAM_RPC(StreamPodSandboxMetrics);
  CRIO_UNARY_RPC(UpdatePodSandboxResources);

 private:
  const core::Config& config_;
  const LiveConfig& live_;  // for the runtime handlers
  RuntimeReadiness& readiness_;
  CniManager& cni_;
  Pods& pods_;
  Containers& containers_;
  stream::Server& streams_;
};

class ImageService final : public v1::ImageService::Service {
 public:
  explicit ImageService(Images& images) : images_(images) {}

  CRIO_UNARY_RPC(ListImages);
  CRIO_STREAM_RPC(StreamImages);
  CRIO_UNARY_RPC(ImageStatus);
  CRIO_UNARY_RPC(PullImage);
  CRIO_UNARY_RPC(RemoveImage);
  CRIO_UNARY_RPC(ImageFsInfo);

 private:
  Images& images_;
};

}  // namespace crio::daemon
