#include "cri_client.hpp"

#include <fmt/format.h>

namespace crio::bench {

namespace {
std::string code_text(grpc::StatusCode code) {
  switch (code) {
    case grpc::OK: return "OK";
    case grpc::CANCELLED: return "Cancelled";
    case grpc::UNKNOWN: return "Unknown";
    case grpc::INVALID_ARGUMENT: return "InvalidArgument";
    case grpc::DEADLINE_EXCEEDED: return "DeadlineExceeded";
    case grpc::NOT_FOUND: return "NotFound";
    case grpc::ALREADY_EXISTS: return "AlreadyExists";
    case grpc::PERMISSION_DENIED: return "PermissionDenied";
    case grpc::RESOURCE_EXHAUSTED: return "ResourceExhausted";
    case grpc::FAILED_PRECONDITION: return "FailedPrecondition";
    case grpc::ABORTED: return "Aborted";
    case grpc::OUT_OF_RANGE: return "OutOfRange";
    case grpc::UNIMPLEMENTED: return "Unimplemented";
    case grpc::INTERNAL: return "Internal";
    case grpc::UNAVAILABLE: return "Unavailable";
    case grpc::DATA_LOSS: return "DataLoss";
    case grpc::UNAUTHENTICATED: return "Unauthenticated";
    default: return fmt::format("code {}", static_cast<int>(code));
  }
}

std::optional<std::string> as_error(const grpc::Status& s) {
  if (s.ok()) return std::nullopt;
  return describe(s);
}
}  // namespace

std::string describe(const grpc::Status& status) {
  return fmt::format("{}: {}", code_text(status.error_code()), status.error_message());
}

CriClient::CriClient(const std::string& endpoint, std::chrono::milliseconds timeout)
    : endpoint_(endpoint.find("://") == std::string::npos ? "unix://" + endpoint : endpoint), timeout_(timeout) {
  grpc::ChannelArguments args;
  // ListImages/ListContainers on a busy node exceed gRPC's 4 MiB default.
  args.SetMaxReceiveMessageSize(64 << 20);
  channel_ = grpc::CreateCustomChannel(endpoint_, grpc::InsecureChannelCredentials(), args);
  runtime_ = v1::RuntimeService::NewStub(channel_);
  images_ = v1::ImageService::NewStub(channel_);
}

std::unique_ptr<grpc::ClientContext> CriClient::context() const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + timeout_);
  return ctx;
}

bool CriClient::wait_ready(std::chrono::milliseconds wait) {
  return channel_->WaitForConnected(std::chrono::system_clock::now() + wait);
}

std::optional<std::string> CriClient::pull(const std::string& image, std::string* image_ref) {
  v1::PullImageRequest req;
  req.mutable_image()->set_image(image);
  v1::PullImageResponse resp;
  auto ctx = context();
  auto err = as_error(images_->PullImage(ctx.get(), req, &resp));
  if (!err && image_ref) *image_ref = resp.image_ref();
  return err;
}

std::optional<std::string> CriClient::remove(const std::string& image) {
  v1::RemoveImageRequest req;
  req.mutable_image()->set_image(image);
  v1::RemoveImageResponse resp;
  auto ctx = context();
  return as_error(images_->RemoveImage(ctx.get(), req, &resp));
}

std::optional<std::string> CriClient::status(const std::string& image, bool* present, v1::Image* out) {
  v1::ImageStatusRequest req;
  req.mutable_image()->set_image(image);
  v1::ImageStatusResponse resp;
  auto ctx = context();
  auto err = as_error(images_->ImageStatus(ctx.get(), req, &resp));
  if (!err) {
    if (present) *present = resp.has_image() && !resp.image().id().empty();
    if (out) *out = resp.image();
  }
  return err;
}

std::optional<std::string> CriClient::list(size_t* count) {
  v1::ListImagesRequest req;
  v1::ListImagesResponse resp;
  auto ctx = context();
  auto err = as_error(images_->ListImages(ctx.get(), req, &resp));
  if (!err && count) *count = static_cast<size_t>(resp.images_size());
  return err;
}

std::optional<std::string> CriClient::run_pod(const v1::PodSandboxConfig& config, std::string* id) {
  v1::RunPodSandboxRequest req;
  *req.mutable_config() = config;
  v1::RunPodSandboxResponse resp;
  auto ctx = context();
  auto err = as_error(runtime_->RunPodSandbox(ctx.get(), req, &resp));
  if (!err) {
    if (resp.pod_sandbox_id().empty()) return "RunPodSandbox returned no pod sandbox ID";
    *id = resp.pod_sandbox_id();
  }
  return err;
}

std::optional<std::string> CriClient::stop_pod(const std::string& id) {
  v1::StopPodSandboxRequest req;
  req.set_pod_sandbox_id(id);
  v1::StopPodSandboxResponse resp;
  auto ctx = context();
  return as_error(runtime_->StopPodSandbox(ctx.get(), req, &resp));
}

std::optional<std::string> CriClient::pod_status(const std::string& id, std::string* state, std::string* ip) {
  v1::PodSandboxStatusRequest req;
  req.set_pod_sandbox_id(id);
  v1::PodSandboxStatusResponse resp;
  auto ctx = context();
  auto err = as_error(runtime_->PodSandboxStatus(ctx.get(), req, &resp));
  if (!err) {
    *state = v1::PodSandboxState_Name(resp.status().state());
    *ip = resp.status().network().ip();
  }
  return err;
}

std::optional<std::string> CriClient::remove_pod(const std::string& id) {
  v1::RemovePodSandboxRequest req;
  req.set_pod_sandbox_id(id);
  v1::RemovePodSandboxResponse resp;
  auto ctx = context();
  return as_error(runtime_->RemovePodSandbox(ctx.get(), req, &resp));
}

std::optional<std::string> CriClient::list_pods(const std::map<std::string, std::string>& labels,
                                                std::vector<std::string>* ids) {
  v1::ListPodSandboxRequest req;
  req.mutable_filter()->mutable_label_selector()->insert(labels.begin(), labels.end());
  v1::ListPodSandboxResponse resp;
  auto ctx = context();
  auto err = as_error(runtime_->ListPodSandbox(ctx.get(), req, &resp));
  if (!err) {
    ids->clear();
    for (const auto& pod : resp.items()) ids->push_back(pod.id());
  }
  return err;
}

}  // namespace crio::bench
