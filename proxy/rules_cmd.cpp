// `wsinspect rules`: the rule catalogue, for people or (--json) for tools.
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "parser/rules.h"
#include "proxy/commands.h"
#include "proxy/event_format.h"

namespace wsi {

int run_rules(bool json, const std::vector<std::string>& ids, std::ostream& out,
              std::ostream& err) {
  std::vector<RuleInfo> shown;
  for (const std::string& id : ids) {
    const std::optional<Rule> r = rule_from_id(id);
    if (!r) {
      err << "wsinspect rules: no rule '" << escape_text(id)
          << "' (wsinspect rules lists them all)\n";
      return 2;
    }
    shown.push_back(rule_info(*r));
  }
  if (ids.empty()) shown.assign(all_rules().begin(), all_rules().end());
  for (const RuleInfo& r : shown) {
    if (json) {
      nlohmann::ordered_json j = {{"rule", r.id},
                                  {"close_code", r.close_code},
                                  {"http_status", r.http_status},
                                  {"severity", severity_name(r.severity)},
                                  {"rfc", r.rfc},
                                  {"summary", r.summary},
                                  {"fix", r.fix}};
      out << j.dump() << '\n';
      continue;
    }
    out << r.id << "  [" << severity_name(r.severity) << ", " << r.rfc;
    if (r.close_code) out << ", close " << r.close_code;
    if (r.http_status) out << ", HTTP " << r.http_status;
    out << "]\n    " << r.summary << "\n    fix: " << r.fix << "\n";
  }
  return 0;
}

}  // namespace wsi
