#include "cli_docs.hpp"

#include "cli.hpp"

#include <crio/core/build_info.hpp>

#include <fmt/format.h>

#include <sstream>

namespace crio::daemon {
namespace {

constexpr const char* kSummary = "Kubernetes Container Runtime Interface (CRI v1) daemon for OCI containers";

std::string all_command_names() {
  std::string out;
  for (const auto& c : command_docs()) {
    for (const auto& n : c.names) out += (out.empty() ? "" : " ") + n;
  }
  return out;
}

std::string bash_completion() {
  std::string words = all_command_names();
  for (const auto& f : flag_docs()) {
    words += " --" + f.name;
    if (f.short_name) words += fmt::format(" -{}", f.short_name);
  }
  return fmt::format(
      "_crio_bash_autocomplete() {{\n"
      "    local cur opts\n"
      "    COMPREPLY=()\n"
      "    cur=\"${{COMP_WORDS[COMP_CWORD]}}\"\n"
      "    opts=\"{}\"\n"
      "    COMPREPLY=( $(compgen -W \"${{opts}}\" -- \"${{cur}}\") )\n"
      "    return 0\n"
      "}}\n"
      "\n"
      "complete -F _crio_bash_autocomplete crio\n",
      words);
}

// Single quotes and colons would end a zsh _arguments spec; brackets open one.
std::string zsh_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\'') out += "'\\''";
    else if (c == ':' || c == '[' || c == ']') out += std::string("\\") + c;
    else out += c;
  }
  return out;
}

std::string first_sentence(const std::string& help) {
  auto end = help.find(". ");
  std::string s = end == std::string::npos ? help : help.substr(0, end + 1);
  if (s.size() > 100) s = s.substr(0, 97) + "...";
  return s;
}

std::string zsh_completion() {
  std::ostringstream out;
  out << "#compdef crio\n\n_crio() {\n  local -a commands\n  commands=(\n";
  for (const auto& c : command_docs()) {
    for (const auto& n : c.names) out << "    '" << n << ":" << zsh_escape(c.summary) << "'\n";
  }
  out << "  )\n  _arguments -C \\\n";
  for (const auto& f : flag_docs()) {
    std::string spec = "--" + f.name;
    if (!f.value_name.empty()) spec += "=";
    out << "    '" << spec << "[" << zsh_escape(first_sentence(f.help)) << "]" << (f.value_name.empty() ? "" : ":" + f.value_name + ":")
        << "' \\\n";
  }
  out << "    '1: :->command' \\\n    '*:: :->args'\n\n"
         "  case $state in\n    command) _describe -t commands 'crio command' commands ;;\n"
         "    args)\n      case $words[1] in\n"
         "        complete|completion) _values 'shell' bash fish zsh ;;\n"
         "        *) _files ;;\n      esac ;;\n  esac\n}\n\n"
         "compdef _crio crio\n";
  return out.str();
}

std::string fish_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string fish_completion() {
  std::ostringstream out;
  out << "# crio fish shell completion\n\n"
         "function __fish_crio_no_subcommand --description 'Test if there has been any subcommand yet'\n"
         "    for i in (commandline -opc)\n"
         "        if contains -- $i "
      << all_command_names()
      << "\n            return 1\n        end\n    end\n    return 0\nend\n\n"
         "complete -c crio -n '__fish_crio_no_subcommand' -f\n";
  for (const auto& f : flag_docs()) {
    out << "complete -c crio -n '__fish_crio_no_subcommand' -l " << f.name;
    if (f.short_name) out << " -s " << f.short_name;
    if (!f.value_name.empty()) out << " -r";
    out << " -d '" << fish_escape(first_sentence(f.help)) << "'\n";
  }
  for (const auto& c : command_docs()) {
    for (const auto& n : c.names) {
      out << "complete -c crio -n '__fish_crio_no_subcommand' -f -a '" << n << "' -d '" << fish_escape(c.summary)
          << "'\n";
    }
  }
  out << "complete -c crio -n '__fish_seen_subcommand_from complete completion' -f -a 'bash fish zsh'\n";
  return out.str();
}

// roff treats a leading '.' or '\'' as a request and '\' as an escape.
std::string roff_escape(const std::string& text) {
  std::string out;
  bool line_start = true;
  for (char c : text) {
    if (c == '\\') out += "\\e";
    else if (line_start && (c == '.' || c == '\'')) out += std::string("\\&") + c;
    else if (c == '-') out += "\\-";
    else out += c;
    line_start = c == '\n';
  }
  return out;
}

std::string flag_synopsis(const FlagDoc& f) {
  std::string s = "--" + f.name;
  if (f.short_name) s += fmt::format(", -{}", f.short_name);
  if (!f.value_name.empty()) s += "=" + f.value_name;
  return s;
}

constexpr const char* kDescription =
    "crio serves the Kubernetes Container Runtime Interface (CRI v1) on a unix socket. It pulls and verifies "
    "images, keeps their layers on overlayfs, creates pod sandboxes with CNI networking and runs containers "
    "through an OCI runtime (runc or crun) under conmon. Its configuration files, defaults, flags and "
    "environment variables follow CRI-O's. Configuration is read from storage.conf, then crio.conf, then the "
    "drop-in directory in name order; environment variables override the files and flags override both.";

constexpr const char* kFiles[][2] = {
    {"crio.conf (/etc/crio/crio.conf)", "the configuration file, with every option of the command line; see crio.conf(5)"},
    {"crio.conf.d (/etc/crio/crio.conf.d)", "drop-in configuration files, applied in name order"},
    {"policy.json (/etc/containers/policy.json)", "the signature verification policy for images"},
    {"registries.conf (/etc/containers/registries.conf)", "registries, mirrors and short-name resolution"},
    {"storage.conf (/etc/containers/storage.conf)", "the storage driver, root and run root"},
};

}  // namespace

std::string completion_script(const std::string& shell) {
  if (shell == "zsh") return zsh_completion();
  if (shell == "fish") return fish_completion();
  return bash_completion();
}

std::string man_page() {
  std::ostringstream out;
  out << ".TH CRIO 8 \"\" \"crio " << roff_escape(build_info().version) << "\" \"System Manager's Manual\"\n"
      << ".SH NAME\ncrio \\- " << roff_escape(kSummary) << "\n"
      << ".SH SYNOPSIS\n.B crio\n[\\fIGLOBAL OPTIONS\\fR] [\\fICOMMAND\\fR [\\fIARGUMENTS\\fR]]\n"
      << ".SH DESCRIPTION\n" << roff_escape(kDescription) << "\n"
      << ".SH GLOBAL OPTIONS\n";
  for (const auto& f : flag_docs()) {
    if (f.refused) continue;
    out << ".TP\n.B " << roff_escape(flag_synopsis(f)) << "\n" << roff_escape(f.help) << "\n";
  }
  out << ".SH CRI-O OPTIONS THIS DAEMON REFUSES\n"
         "These flags of CRI-O are accepted with CRI-O's default, which asks for nothing; any other value stops "
         "crio with an error naming the flag and why.\n";
  for (const auto& f : flag_docs()) {
    if (!f.refused) continue;
    out << ".TP\n.B " << roff_escape(flag_synopsis(f)) << "\n" << roff_escape(f.help) << "\n";
  }
  out << ".SH COMMANDS\n";
  for (const auto& c : command_docs()) {
    std::string names = c.names.front();
    for (std::size_t i = 1; i < c.names.size(); ++i) names += ", " + c.names[i];
    out << ".TP\n.B " << roff_escape(names) << (c.arguments.empty() ? "" : " " + roff_escape(c.arguments)) << "\n"
        << roff_escape(c.summary) << "\n";
  }
  out << ".SH FILES\n";
  for (const auto& [name, what] : kFiles) out << ".TP\n.B " << roff_escape(name) << "\n" << roff_escape(what) << "\n";
  out << ".SH SEE ALSO\ncrio.conf(5), crio-status(8), policy.json(5), registries.conf(5), storage.conf(5)\n";
  return out.str();
}

std::string markdown_page() {
  std::ostringstream out;
  out << "% crio(8)\n\n# NAME\n\ncrio - " << kSummary << "\n\n# SYNOPSIS\n\n"
      << "```\ncrio [GLOBAL OPTIONS] [COMMAND [ARGUMENTS...]]\n```\n\n# DESCRIPTION\n\n"
      << kDescription << "\n\n# GLOBAL OPTIONS\n\n";
  for (const auto& f : flag_docs()) {
    if (!f.refused) out << "- **" << flag_synopsis(f) << "**: " << f.help << "\n\n";
  }
  out << "# CRI-O OPTIONS THIS DAEMON REFUSES\n\n"
         "Accepted with CRI-O's default, which asks for nothing; any other value stops crio with an error "
         "naming the flag and why.\n\n";
  for (const auto& f : flag_docs()) {
    if (f.refused) out << "- **" << flag_synopsis(f) << "**: " << f.help << "\n\n";
  }
  out << "# COMMANDS\n\n";
  for (const auto& c : command_docs()) {
    std::string names = c.names.front();
    for (std::size_t i = 1; i < c.names.size(); ++i) names += ", " + c.names[i];
    out << "- **" << names << "**" << (c.arguments.empty() ? "" : " " + c.arguments) << ": " << c.summary << "\n\n";
  }
  out << "# FILES\n\n";
  for (const auto& [name, what] : kFiles) out << "**" << name << "**: " << what << "\n\n";
  out << "# SEE ALSO\n\ncrio.conf(5), crio-status(8), policy.json(5), registries.conf(5), storage.conf(5)\n";
  return out.str();
}

}  // namespace crio::daemon
