#pragma once
// A CRI v1 client for any endpoint (crio, containerd, ...): the channel, both stubs,
// and the few conveniences every scenario wants (deadlines, error text).

#include "cri_api.hpp"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace crio::bench {

namespace v1 = ::runtime::v1;

class CriClient {
 public:
  // endpoint: "unix:///run/x.sock" (a bare path is taken as a unix socket).
  CriClient(const std::string& endpoint, std::chrono::milliseconds timeout);

  v1::RuntimeService::Stub& runtime() { return *runtime_; }
  v1::ImageService::Stub& images() { return *images_; }
  const std::string& endpoint() const { return endpoint_; }

  // A fresh context carrying the per-call deadline (a context serves one call only).
  std::unique_ptr<grpc::ClientContext> context() const;

  // Waits until the channel connects; false after `wait`.
  bool wait_ready(std::chrono::milliseconds wait);

  // Convenience calls used by several scenarios; an error is "CODE: message".
  std::optional<std::string> pull(const std::string& image, std::string* image_ref = nullptr);
  std::optional<std::string> remove(const std::string& image);
  // present is set to whether the image exists.
  std::optional<std::string> status(const std::string& image, bool* present = nullptr,
                                    v1::Image* out = nullptr);
  std::optional<std::string> list(size_t* count = nullptr);
  // Pod sandboxes: the new pod's ID lands in *id.
  std::optional<std::string> run_pod(const v1::PodSandboxConfig& config, std::string* id);
  std::optional<std::string> stop_pod(const std::string& id);
  // PodSandboxStatus: the state's name and the primary IP ("" without one).
  std::optional<std::string> pod_status(const std::string& id, std::string* state, std::string* ip);
  std::optional<std::string> remove_pod(const std::string& id);
  // IDs of the pods whose labels contain every pair of `labels`.
  std::optional<std::string> list_pods(const std::map<std::string, std::string>& labels,
                                       std::vector<std::string>* ids);

 private:
  std::string endpoint_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::RuntimeService::Stub> runtime_;
  std::unique_ptr<v1::ImageService::Stub> images_;
};

std::string describe(const grpc::Status& status);

}  // namespace crio::bench
