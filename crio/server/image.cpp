// ImageService: PullImage, ImageStatus, ListImages, StreamImages, RemoveImage, ImageFsInfo.

#include "images.hpp"
#include "server/grpc_status.hpp"
#include "server/runtime_service.hpp"

#include <nlohmann/json.hpp>

#include <chrono>

namespace crio::daemon {
namespace {

void fill_image(const ImageView& view, v1::Image* out) {
  out->set_id(view.image.id);
  for (const auto& name : view.image.names) out->add_repo_tags(name);
  for (const auto& digest : view.image.digests) out->add_repo_digests(digest);
  out->set_size(static_cast<uint64_t>(std::max<int64_t>(0, view.image.size)));
  if (view.uid) out->mutable_uid()->set_value(*view.uid);
  out->set_username(view.username);
  out->mutable_spec()->set_image(view.image.id);
  out->set_pinned(view.pinned);
}

Status require_image_name(const v1::ImageSpec& spec, std::string_view rpc) {
  if (spec.image().empty()) return error(Code::kInvalidArgument, "{}: no image given", rpc);
  return ok_status();
}

std::optional<image::AuthConfig> auth_of(const v1::PullImageRequest& request) {
  if (!request.has_auth()) return std::nullopt;
  const auto& a = request.auth();
  image::AuthConfig auth;
  auth.username = a.username();
  auth.password = a.password();
  auth.auth = a.auth();
  auth.identity_token = a.identity_token();
  auth.registry_token = a.registry_token();
  if (auth.empty()) return std::nullopt;
  return auth;
}

}  // namespace

grpc::Status ImageService::PullImage(grpc::ServerContext*, const v1::PullImageRequest* request,
                                     v1::PullImageResponse* response) {
  if (Status s = require_image_name(request->image(), "PullImage"); !s.ok()) return to_grpc(s);
  PullRequest pull;
  pull.image = request->image().image();
  pull.auth = auth_of(*request);
  if (request->has_sandbox_config()) pull.pod_namespace = request->sandbox_config().metadata().namespace_();
  auto pulled = images_.pull(pull);
  if (!pulled.ok()) return to_grpc(pulled.status());
  response->set_image_ref(pulled->image.id);
  return grpc::Status::OK;
}

grpc::Status ImageService::ImageStatus(grpc::ServerContext*, const v1::ImageStatusRequest* request,
                                       v1::ImageStatusResponse* response) {
  if (Status s = require_image_name(request->image(), "ImageStatus"); !s.ok()) return to_grpc(s);
  auto found = images_.find(request->image().image());
  if (!found) return grpc::Status::OK;  // absent: an empty response, as the CRI asks
  fill_image(*found, response->mutable_image());
  if (request->verbose()) {
    nlohmann::json info = {
        {"id", found->image.id},
        {"names", found->image.names},
        {"digests", found->image.digests},
        {"topLayer", found->image.top_layer},
        {"size", found->image.size},
        {"created", found->image.created},
        {"imageSpec", nlohmann::json::parse(found->image.config, nullptr, false)},
    };
    (*response->mutable_info())["info"] = info.dump();
  }
  return grpc::Status::OK;
}

grpc::Status ImageService::ListImages(grpc::ServerContext*, const v1::ListImagesRequest* request,
                                      v1::ListImagesResponse* response) {
  for (const auto& view : images_.list(request->filter().image().image())) fill_image(view, response->add_images());
  return grpc::Status::OK;
}

grpc::Status ImageService::StreamImages(grpc::ServerContext* context, const v1::StreamImagesRequest* request,
                                        grpc::ServerWriter<v1::StreamImagesResponse>* writer) {
  // Batches keep each message far below the gRPC size limit however many images exist.
  constexpr int kBatch = 256;
  v1::StreamImagesResponse batch;
  for (const auto& view : images_.list(request->filter().image().image())) {
    fill_image(view, batch.add_images());
    if (batch.images_size() == kBatch) {
      if (context->IsCancelled() || !writer->Write(batch)) return grpc::Status::CANCELLED;
      batch.Clear();
    }
  }
  if (batch.images_size() > 0 && !writer->Write(batch)) return grpc::Status::CANCELLED;
  return grpc::Status::OK;
}

grpc::Status ImageService::RemoveImage(grpc::ServerContext*, const v1::RemoveImageRequest* request,
                                       v1::RemoveImageResponse*) {
  if (Status s = require_image_name(request->image(), "RemoveImage"); !s.ok()) return to_grpc(s);
  return to_grpc(images_.remove(request->image().image()));
}

grpc::Status ImageService::ImageFsInfo(grpc::ServerContext*, const v1::ImageFsInfoRequest*,
                                       v1::ImageFsInfoResponse* response) {
  auto usage = images_.store().usage();
  if (!usage.ok()) return to_grpc(usage.status());
  int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  auto fill = [now](v1::FilesystemUsage* out, const std::string& mountpoint, const storage::Usage& u) {
    out->set_timestamp(now);
    out->mutable_fs_id()->set_mountpoint(mountpoint);
    out->mutable_used_bytes()->set_value(static_cast<uint64_t>(std::max<int64_t>(0, u.bytes)));
    out->mutable_inodes_used()->set_value(static_cast<uint64_t>(std::max<int64_t>(0, u.inodes)));
  };
  fill(response->add_image_filesystems(), images_.images_mountpoint(), usage->layers);
  fill(response->add_container_filesystems(), images_.containers_mountpoint(), usage->containers);
  return grpc::Status::OK;
}

}  // namespace crio::daemon
