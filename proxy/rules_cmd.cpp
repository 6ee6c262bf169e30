// `wsinspect rules`: the rule catalogue, for people or (--json) for tools, in
// English or Brazilian Portuguese (parser/catalog_pt_br.h).
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "parser/catalog_pt_br.h"
#include "parser/rules.h"
#include "proxy/commands.h"
#include "proxy/event_format.h"

namespace wsi {

int run_rules(const RulesOptions& opts, std::ostream& out, std::ostream& err) {
  Lang lang = Lang::en;
  if (opts.lang.empty()) {
    // Tools reading --json do not change with the user's locale.
    if (!opts.json) lang = lang_from_environment();
  } else if (const std::optional<Lang> named = lang_from_name(opts.lang)) {
    lang = *named;
  } else {
    err << "wsinspect rules: unknown language '" << escape_text(opts.lang)
        << "' for --lang: expected en or pt-BR (also pt_BR, pt)\n";
    return 2;
  }
  std::vector<RuleInfo> shown;
  for (const std::string& id : opts.ids) {
    const std::optional<Rule> r = rule_from_id(id);
    if (!r) {
      err << "wsinspect rules: no rule '" << escape_text(id)
          << "' (wsinspect rules lists them all)\n";
      return 2;
    }
    shown.push_back(rule_info(*r));
  }
  if (opts.ids.empty()) shown.assign(all_rules().begin(), all_rules().end());
  const RulesText& words = rules_text(lang);
  for (const RuleInfo& r : shown) {
    const RuleText text = rule_text(r, lang);
    if (opts.json) {
      nlohmann::ordered_json j = {{"rule", r.id},
                                  {"close_code", r.close_code},
                                  {"http_status", r.http_status},
                                  {"severity", severity_name(r.severity)},
                                  {"rfc", r.rfc},
                                  {"summary", text.summary},
                                  {"fix", text.fix}};
      out << j.dump() << '\n';
      continue;
    }
    out << r.id << "  [" << severity_text(r.severity, lang) << ", " << r.rfc;
    if (r.close_code) out << ", " << words.close_label << r.close_code;
    if (r.http_status) out << ", HTTP " << r.http_status;
    out << "]\n    " << text.summary << "\n    " << words.fix_label << text.fix << "\n";
  }
  return 0;
}

int run_rules(bool json, const std::vector<std::string>& ids, std::ostream& out,
              std::ostream& err) {
  return run_rules(RulesOptions{json, ids, "en"}, out, err);
}

}  // namespace wsi
