// Exec, Attach, PortForward: the RPC checks the request and hands back a one-time URL
// on the streaming server, where the client opens the actual streams.

#include "server/grpc_status.hpp"
#include "server/runtime_service.hpp"

namespace crio::daemon {
namespace {

Status check_stdio(std::string_view rpc, const std::string& id, bool stdin, bool stdout, bool stderr, bool tty) {
  if (!stdin && !stdout && !stderr) {
    return error(Code::kInvalidArgument, "{} for container {}: one of stdin, stdout and stderr must be requested", rpc, id);
  }
  if (tty && stderr) {
    return error(Code::kInvalidArgument, "{} for container {}: tty and stderr cannot both be requested (a terminal has one output)",
                 rpc, id);
  }
  return ok_status();
}

// Exec also takes a created container, as CRI-O does: its init exists and can be joined.
Result<Container> running_container(Containers& containers, std::string_view rpc, const std::string& id,
                                    bool or_created = false) {
  if (id.empty()) return error(Code::kInvalidArgument, "{}: container_id is required", rpc);
  CRIO_ASSIGN_OR_RETURN(Container c, containers.get(id));
  if (c.state == ContainerState::kCreated && or_created) return c;
  if (c.state != ContainerState::kRunning) {
    return error(Code::kFailedPrecondition, "{}: container {} is not {}running", rpc, c.id,
                 or_created ? "created or " : "");
  }
  return c;
}

}  // namespace

grpc::Status RuntimeService::Exec(grpc::ServerContext*, const v1::ExecRequest* request, v1::ExecResponse* response) {
  if (request->cmd().empty()) {
    return to_grpc(error(Code::kInvalidArgument, "Exec in container {}: cmd is required", request->container_id()));
  }
  auto c = running_container(containers_, "Exec", request->container_id(), true);
  if (!c.ok()) return to_grpc(c.status());
  if (crio::Status s = check_stdio("Exec", c->id, request->stdin(), request->stdout(), request->stderr(), request->tty()); !s.ok()) {
    return to_grpc(s);
  }
  stream::ExecRequest exec{c->id, {request->cmd().begin(), request->cmd().end()}, request->tty(), request->stdin(),
                           request->stdout(), request->stderr()};
  auto url = streams_.url_for(std::move(exec));
  if (!url.ok()) return to_grpc(url.status());
  response->set_url(*url);
  return grpc::Status::OK;
}

grpc::Status RuntimeService::Attach(grpc::ServerContext*, const v1::AttachRequest* request, v1::AttachResponse* response) {
  auto c = running_container(containers_, "Attach", request->container_id());
  if (!c.ok()) return to_grpc(c.status());
  if (crio::Status s = check_stdio("Attach", c->id, request->stdin(), request->stdout(), request->stderr(), request->tty()); !s.ok()) {
    return to_grpc(s);
  }
  if (request->stdin() && !c->spec.stdin_open) {
    return to_grpc(error(Code::kFailedPrecondition, "Attach: container {} was not created with stdin open", c->id));
  }
  stream::AttachRequest attach{c->id, request->tty(), request->stdin(), request->stdout(), request->stderr()};
  auto url = streams_.url_for(std::move(attach));
  if (!url.ok()) return to_grpc(url.status());
  response->set_url(*url);
  return grpc::Status::OK;
}

grpc::Status RuntimeService::PortForward(grpc::ServerContext*, const v1::PortForwardRequest* request,
                                         v1::PortForwardResponse* response) {
  if (request->pod_sandbox_id().empty()) {
    return to_grpc(error(Code::kInvalidArgument, "PortForward: pod_sandbox_id is required"));
  }
  auto pod = pods_.get(request->pod_sandbox_id());
  if (!pod.ok()) return to_grpc(pod.status());
  if (pod->state != PodState::kReady) {
    return to_grpc(error(Code::kFailedPrecondition, "PortForward: pod sandbox {} is not ready", pod->id));
  }
  stream::PortForwardRequest forward{pod->id, {}};
  for (int32_t port : request->port()) {
    if (port < 1 || port > 65535) {
      return to_grpc(error(Code::kInvalidArgument, "PortForward to pod sandbox {}: port {} is out of range", pod->id, port));
    }
    forward.ports.push_back(port);
  }
  auto url = streams_.url_for(std::move(forward));
  if (!url.ok()) return to_grpc(url.status());
  response->set_url(*url);
  return grpc::Status::OK;
}

}  // namespace crio::daemon
