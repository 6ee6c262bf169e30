// `wsinspect rules`: the rule catalogue, for people or (--json) for tools.
#include <ostream>

#include <nlohmann/json.hpp>

#include "parser/rules.h"
#include "proxy/commands.h"

namespace wsi {

int run_rules(bool json, std::ostream& out) {
  for (const RuleInfo& r : all_rules()) {
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
