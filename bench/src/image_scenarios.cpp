// Image scenarios: pull (cold by default), list-images, image-status.

#include "scenarios.hpp"

#include <fmt/format.h>

namespace crio::bench {
namespace {

StepError require_image(const Options& options, std::string_view scenario) {
  if (options.image.empty()) return fmt::format("scenario {} needs --image", scenario);
  return std::nullopt;
}

// Untimed: make sure the image is absent (and the hook had its say, e.g. waited for
// the runtime to drop the layers), so the first recorded pull is cold.
StepError make_absent(Context& ctx) {
  bool present = false;
  if (auto err = ctx.client.status(ctx.options.image, &present)) return "ImageStatus: " + *err;
  if (present) {
    if (auto err = ctx.client.remove(ctx.options.image)) return "RemoveImage: " + *err;
  }
  return run_between_cmd(ctx.options, -ctx.options.warmup - 1);
}

StepError make_present(Context& ctx) {
  bool present = false;
  if (auto err = ctx.client.status(ctx.options.image, &present)) return "ImageStatus: " + *err;
  if (present) return std::nullopt;
  if (auto err = ctx.client.pull(ctx.options.image)) return "PullImage: " + *err;
  ctx.extra["pulled_first"] = true;
  return std::nullopt;
}

void record_image(Context& ctx, const v1::Image& image) {
  ctx.extra["image_id"] = image.id();
  ctx.extra["image_size_reported"] = image.size();
  ctx.extra["repo_digests"] = std::vector<std::string>(image.repo_digests().begin(), image.repo_digests().end());
}

void abort_with(Context& ctx, const std::string& why) { ctx.extra["aborted"] = why; }

}  // namespace

void scenario_pull(Context& ctx) {
  const Options& o = ctx.options;
  if (auto err = require_image(o, "pull")) return abort_with(ctx, *err);
  if (auto err = make_absent(ctx)) return abort_with(ctx, "before the first pull: " + *err);

  bool recorded_image = false;
  RoundPlan plan;
  plan.rounds = o.runs;
  plan.parallel = o.parallel;
  plan.warmup = o.warmup;
  plan.op_name = "pull";
  plan.op = [&](int, int) -> StepError {
    if (auto err = ctx.client.pull(o.image)) return err;
    return std::nullopt;
  };
  plan.teardown = [&](int round) -> StepError {
    if (!recorded_image) {
      v1::Image image;
      bool present = false;
      if (!ctx.client.status(o.image, &present, &image) && present) {
        record_image(ctx, image);
        recorded_image = true;
      }
    }
    if (!o.keep_image) {
      // A failed removal would make every later pull warm: stop rather than mislead.
      if (auto err = ctx.sampler.timed("remove", [&] { return ctx.client.remove(o.image); }))
        return "RemoveImage: " + *err;
    }
    if (o.between_cmd.empty()) return std::nullopt;
    return ctx.sampler.timed("between", [&] { return run_between_cmd(o, round); });
  };
  ctx.sampler.run(plan);
}

void scenario_list_images(Context& ctx) {
  const Options& o = ctx.options;
  if (!o.image.empty()) {
    if (auto err = make_present(ctx)) return abort_with(ctx, *err);
  }
  size_t listed = 0;
  RoundPlan plan;
  plan.rounds = o.runs;
  plan.parallel = o.parallel;
  plan.warmup = o.warmup;
  plan.op_name = "list-images";
  plan.op = [&](int, int) { return ctx.client.list(&listed); };
  ctx.sampler.run(plan);
  ctx.extra["images_listed"] = listed;
}

void scenario_image_status(Context& ctx) {
  const Options& o = ctx.options;
  if (auto err = require_image(o, "image-status")) return abort_with(ctx, *err);
  if (auto err = make_present(ctx)) return abort_with(ctx, *err);
  RoundPlan plan;
  plan.rounds = o.runs;
  plan.parallel = o.parallel;
  plan.warmup = o.warmup;
  plan.op_name = "image-status";
  plan.op = [&](int, int) -> StepError {
    bool present = false;
    if (auto err = ctx.client.status(o.image, &present)) return err;
    if (!present) return fmt::format("ImageStatus says {} is absent", o.image);
    return std::nullopt;
  };
  ctx.sampler.run(plan);
}

}  // namespace crio::bench
