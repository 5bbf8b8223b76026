"""Message templates by code: (zh, en), ``str.format`` fields filled from the message's ``params``."""

from __future__ import annotations

#: Message templates by code: (zh, en), ``str.format`` fields filled from the message's ``params``.
#: Solvers and services emit ``{"code": ..., "params": {...}}``; outputs show the text in their language.
MESSAGES: dict[str, tuple[str, str]] = {
    # close_gaps (solvers/gaps.py)
    "gap_no_candidate": ("范围（{threshold}）内没有候选点：最近的候选点在 {nearest} 外",
                         "no candidate within the threshold ({threshold}): the nearest candidate is {nearest} away"),
    "gap_not_selected": ("{nearest} 外的候选点可以覆盖它，但新增点放在了能覆盖更多人的地方",
                         "a candidate {nearest} away could cover it, but the new points went where they cover more people"),
    "gap_proposed": ("现有站点 {n_fixed} 个，从 {n_candidates} 个候选点中选出 {n_new} 个新增点；{threshold} 外仍有 {n_uncovered} 个村社区",
                     "{n_fixed} existing stations, {n_new} new point(s) chosen from {n_candidates} candidates; "
                     "{n_uncovered} village(s) still beyond {threshold}"),
    "gap_unreachable": ("并非每个村社区都能覆盖：{n_uncovered} 个村社区在 {threshold} 内没有候选点；{n_new} 个新增点覆盖其余全部",
                        "not every village can be reached: {n_uncovered} village(s) have no candidate within {threshold}; "
                        "{n_new} new point(s) cover all the others"),
    # assignment tiers (solvers/assignment/*, solvers/pipeline.py)
    "groups_short": ("{groups} 个活动组、每组最多 {max} 个村社区，容纳不下 {demand} 个村社区：{n} 个村社区（{people} 人）未覆盖；"
                     "还需 {needed} 个活动组",
                     "{groups} groups x max {max} cannot take {demand} villages: {n} villages ({people} people) stay "
                     "uncovered; {needed} more groups would be needed"),
    "committees_short": ("{committees} 个专委会、每个 {per} 个乡镇，有 {n} 个服务不足的乡镇（{people} 人未覆盖）没有专委会；"
                         "还需 {needed} 个专委会",
                         "{committees} committees x {per} townships leave {n} under-served townships ({people} "
                         "uncovered people) without a committee; {needed} more committees would be needed"),
    "compactness_solver": ("CP-SAT 求解器返回 {status}；保留最小费用流方案（未计紧凑性）",
                           "CP-SAT returned {status}; kept the min-cost-flow solution without compactness"),
    "no_member": ("{scope}：没有{who}能接收这 {n} 个{what}，它们保持未分配",
                  "{scope}: no {who} can take these {n} {what}; they stay unassigned"),
    "no_member_fallback": ("{scope}：没有{who}能接收这 {n} 个{what}，它们保持未分配（可允许跨界别兜底来安排）",
                           "{scope}: no {who} can take these {n} {what}; they stay unassigned "
                           "(allow the cross-sector fallback to place them)"),
    "max_load": ("{scope}：{cols} 个{who}上限合计 {cap}，少于 {n} 个{what}，缺 {short}；最接近的可行放宽：上限提高到 {relaxed}",
                 "{scope}: {cols} {who} with total max {cap} < {n} {what}, short by {short}; "
                 "closest feasible relaxation: max raised to {relaxed}"),
    "min_load": ("{scope}：{cols} 个{who}下限合计 {cap}，多于 {n} 个{what}，差 {short}；最接近的可行放宽：下限降低到 {relaxed}",
                 "{scope}: {cols} {who} with total min {cap} > {n} {what}, short by {short}; "
                 "closest feasible relaxation: min lowered to {relaxed}"),
    "locks_over_max": ("{name}：锁定的 {n} 个{what}超过上限 {max}；保留锁定，上限提高到 {n}",
                       "{name}: {n} locked {what} > max {max}; locks are kept, max raised to {n}"),
    "reachability": ("{n} 位界别群众无法在可分配委员的上限内安排；{empty} 个委员下限名额空缺",
                     "{n} constituents cannot be placed within the max loads of the members they may go to; "
                     "{empty} member min places stay empty"),
    "pins_conflict": ("活动组 {group}：委员指定了不同的站点（{stations}）；未锁定站点",
                      "group {group}: members pin different stations ({stations}); no station lock applied"),
    "constituents_unlocated": ("{n} 位界别群众既无坐标也无所属村社区：{ids}",
                               "{n} constituents have neither a point nor a village: {ids}"),
    "fallback_used": ("跨界别兜底：{outcome}，{n} 位界别群众由其他界别的委员联系（总计 {cost}）；已作为结果",
                      "cross-sector fallback: {outcome} with {n} constituents placed with members of other sectors "
                      "(total {cost}); used as the answer"),
    "fallback_tried": ("跨界别兜底：{outcome}，{n} 位界别群众由其他界别的委员联系（总计 {cost}）；仅供参考",
                       "cross-sector fallback: {outcome} with {n} constituents placed with members of other sectors "
                       "(total {cost}); for reference only"),
    "nothing_to_do_add": ("{tier}：没有可分配的对象：请添加 {files}", "{tier}: nothing to assign: add {files}"),
    "nothing_to_do_empty": ("{tier}：没有可分配的对象（该层为空或没有选中的行）",
                            "{tier}: nothing to assign (the layer is empty or no rows are selected)"),
    "gap_villages": ("{n} 个空白村社区", "{n} gap villages"),
    # CLI lines
    "cli_valid": ("校验通过：{counts}", "valid: {counts}"), "cli_warning": ("警告：{text}", "warning: {text}"),
    "cli_note": ("说明：{text}", "note: {text}"), "cli_wrote": ("已写出 {files}", "wrote {files}"),
    "cli_problem": ("{layer} 第 {row} 行{id}{field}：{message}", "{layer} row {row}{id}{field}: {message}"),
    "cli_gaps_result": ("{outcome}：{message}", "{outcome}: {message}"),
    "cli_gaps_weight_villages": ("（按村社区计，每村计 1）", " (weights: villages, one per village)"),
    "cli_uncovered": ("  未覆盖 {id} {name}：{message}", "  uncovered {id} {name}: {message}"),
    "cli_tier": ("{tier}：{outcome}（间隙 {gap}，{time_s:.2f} 秒{moved}）", "{tier}: {outcome} (gap {gap}, {time_s:.2f} s{moved})"),
    "cli_moved": ("，调整 {n}", ", moved {n}"),
    "cli_outcome": ("求解结果：{outcome}（{text}）{diagnosis}", "outcome: {outcome} ({text}){diagnosis}"),
    # jobs (api/jobs.py messages)
    "job_waiting": ("等待空闲的计算进程", "waiting for a worker"), "job_running": ("运行中", "running"),
    "job_dismissed": ("已按要求取消", "dismissed on request"),
    "job_stopped": ("服务在任务开始前停止", "the service stopped before the job started"),
    "job_finished": ("已完成：{outcome}", "finished: {outcome}"),
    "job_finished_text": ("已完成：{outcome}（{text}）{diagnosis}", "finished: {outcome} ({text}){diagnosis}"),
    # 码上议事: why this member (solvers/messages.py reasons)
    "msg_why_station_duty": ("{name}：本站本月值班委员，距本站 {km} 公里，当前待办 {open} 件",
                             "{name}: on duty at this station this month, {km} km away, {open} open"),
    "msg_why_station_members": ("{name}：本站委员，距本站 {km} 公里，当前待办 {open} 件",
                                "{name}: member of this station, {km} km away, {open} open"),
    "msg_why_sector_place": ("{name}：{sector}界别离该村社区最近的委员之一（{km} 公里），当前待办 {open} 件",
                             "{name}: among the {sector} members nearest the village ({km} km), {open} open"),
    "msg_why_place": ("{name}：该村社区的责任委员（{km} 公里），当前待办 {open} 件",
                      "{name}: responsible for the village ({km} km), {open} open"),
    "msg_no_member": ("没有可分派的委员，由政协办公室办理", "no member to route to: the office handles it"),
    "msg_rate_address": ("留言过于频繁，请 {wait} 秒后再试", "too many messages from this address; try again in {wait} s"),
    "msg_rate_station": ("该站点留言过多，请 {wait} 秒后再试", "too many messages for this station; try again in {wait} s"),
    "msg_station_full": ("该站点今日待办留言已满，请拨打 12345 或改日留言",
                         "this station holds too many open messages today; call 12345 or try tomorrow"),
    # liaison ledger (geo_service/core/ledger.py) and yearly review (solvers/review.py)
    "ledger_required": ("第 {row} 行：{field}不能为空", "row {row}: {field} is required"),
    "ledger_bad_choice": ("第 {row} 行：{field}“{value}”无效，应为 {choices}",
                          "row {row}: {field} '{value}' is not one of {choices}"),
    "ledger_not_for_kind": ("第 {row} 行：{field}“{value}”只用于值班或社情民意",
                            "row {row}: {field} '{value}' applies only to duties and opinions"),
    "ledger_bad_date": ("第 {row} 行：{field}“{value}”不是有效日期（如 2027-03-05）",
                        "row {row}: {field} '{value}' is not a date (like 2027-03-05)"),
    # an import's problems, worded from the values the readers quote (geo_service/core/io)
    "problem_not_whole": ("“{value}”不是整数", "'{value}' is not a whole number"),
    "problem_not_number": ("“{value}”不是数字", "'{value}' is not a number"),
    "problem_column_not_number": ("{column}“{value}”不是数字", "{column} '{value}' is not a number"),
    "problem_county_no_id": ("区县边界没有编号列：已设为 {value}", "no 'id' column; set to '{value}'"),
    "problem_county_no_name": ("区县边界没有名称列：已设为 {value}", "no 'name' column; set to '{value}'"),
    "problem_ids_from_names": ("没有编号列（代码/编号）：以名称作为编号", "no id column; ids set to the names"),
    "problem_ids_from_rows": ("没有编号列（代码/编号）：以行号作为编号", "no id column; ids set to the row numbers"),
    "problem_no_population": ("没有人口列：人口未知；在导入人口列之前，覆盖率按村数计算（每村计 1）",
                              "no population column: coverage counts villages until a population column is imported"),
    "problem_township_no_seat_drop": ("乡镇“{name}”没有驻地坐标，也没有带坐标的村社区，无法生成边界，已跳过",
                                      "township '{name}' has no seat coordinates and no village with coordinates; "
                                      "dropped"),
    "problem_township_no_seat_error": ("乡镇“{name}”没有驻地坐标，也没有带坐标的村社区，无法生成边界",
                                       "township '{name}' has no seat coordinates and no village with coordinates, "
                                       "so no polygon can be derived"),
    "problem_township_no_seat_keep": ("乡镇“{name}”没有驻地坐标，也没有带坐标的村社区，无法生成边界；已保留为未定位",
                                      "township '{name}' has no seat coordinates and no village with coordinates; "
                                      "kept without a polygon (未定位)"),
    "problem_derived_polygons": ("乡镇以驻地点给出：边界由其村社区的泰森多边形合并而成",
                                 "townships given as points: polygons derived from the Voronoi cells of their villages"),
    "problem_derived_polygons_clipped": ("乡镇以驻地点给出：边界由其村社区的泰森多边形合并而成，并裁剪到区县边界",
                                         "townships given as points: polygons derived from the Voronoi cells of their "
                                         "villages, clipped to the county boundary"),
    "problem_far_from_seat": ("“{village}”离所属乡镇“{township}”驻地 {own_km} 公里，离“{nearest_township}”驻地只有 {nearest_km} "
                              "公里：请核对坐标或所属乡镇",
                              "'{village}' lies {own_km} km from the seat of its township '{township}' but "
                              "{nearest_km} km from that of '{nearest_township}': check its coordinates or township"),
    "problem_placed_at_township_seat": ("{n} 个村社区没有坐标，已近似定位在所属乡镇驻地（定位依据：乡镇驻地）",
                                        "{n} villages without coordinates placed at their township's seat "
                                        "(approximate)"),
    "problem_placed_at_township_centre": ("{n} 个村社区没有坐标，已近似定位在所属乡镇的中心（定位依据：乡镇中心）",
                                          "{n} villages without coordinates placed at their township's centre "
                                          "(approximate)"),
    "problem_villages_unlocated": ("{n} 个村社区没有坐标，所属乡镇也未定位，保留为未定位（无点位）：{names}",
                                   "{n} villages without coordinates and without a located township are kept "
                                   "without a point: {names}"),
    "problem_no_coordinates_dropped": ("“{name}”没有坐标，已跳过", "'{name}' has no coordinates; dropped"),
    "problem_shared_coordinates": ("“{name}”（{township}）与第 {other_row} 行“{other}”（{other_township}）坐标完全相同"
                                   "（{lon}, {lat}）：可能是地址匹配错误",
                                   "'{name}' ({township}) has the same coordinates ({lon}, {lat}) as row {other_row} "
                                   "'{other}' ({other_township}): probably a geocoding mistake"),
    "ledger_bad_number": ("第 {row} 行：{field}“{value}”应为 {min} 到 {max} 的整数",
                          "row {row}: {field} '{value}' must be a whole number from {min} to {max}"),
    "ledger_too_long": ("第 {row} 行：{field}超过 {max} 个字", "row {row}: {field} is longer than {max} characters"),
    "ledger_needs_target": ("第 {row} 行：联系群众须填写群众编号、村社区编号或活动组编号之一",
                            "row {row}: a contact needs a constituent, village or group id"),
    "ledger_unknown_ref": ("第 {row} 行：{field}“{value}”在{layer}中不存在", "row {row}: {field} '{value}' is not in {layer}"),
    "ledger_no_sheet": ("工作簿中没有含“活动类型”列的工作表（有：{sheets}）",
                        "no sheet of the workbook has an activity kind column (sheets: {sheets})"),
    "ledger_not_yours": ("第 {row} 行：只能录入本人（{member}）的台账", "row {row}: you may record only your own ({member}) activities"),
    "review_item": ("{rule}：{n} 条 × {each} 分{capped}", "{rule}: {n} x {each} points{capped}"),
    "review_capped": ("（封顶 {cap} 分）", " (capped at {cap})"),
    "review_talk": ("得分 {score} 低于 {threshold}，需约谈", "score {score} below {threshold}: a talk is due"),
    "ledger_kept_link": ("台账显示已联系，保留原分配", "the ledger shows a contact: link kept"),
    "ledger_moved_unreached": ("{period} 内原委员未联系，改由他人联系", "not reached by the assigned member in {period}: moved"),
    # location models on plain arrays (solvers.location: one diagnostic per demand left uncovered)
    "location_no_candidate": ("需求点 {demand} 在服务范围内没有候选点（最近的是 {nearest_site}，代价 {nearest_cost}）",
                              "demand {demand} has no site in reach (nearest {nearest_site}, cost {nearest_cost})"),
    "location_not_selected": ("需求点 {demand} 可以被覆盖，但名额用在了别处（最近的是 {nearest_site}）",
                              "demand {demand} could be covered, but the budget went elsewhere (nearest {nearest_site})"),
    "location_capacity": ("需求点 {demand} 附近的站点已满（最近的是 {nearest_site}）",
                          "the sites in reach of demand {demand} are full (nearest {nearest_site})"),
    # job failures the service words itself (solver processes, restarts, road mode without roads)
    "job_failed_solver_error": ("求解器意外出错，详情见服务日志（编号 {ref}）",
                                "the solver failed unexpectedly; the service log has the details (reference {ref})"),
    "job_failed_time_limit": ("求解时间远超时限（time_limit_s），已停止", "the solver ran far past its time_limit_s; stopped"),
    "job_failed_worker_died": ("求解进程意外退出（可能内存不足）", "the solver process ended without an answer (out of memory?)"),
    "job_failed_interrupted": ("服务在任务运行时停止，任务已中断，请重新提交",
                               "the service stopped while the job ran; submit it again"),
    "job_failed_missing_layer": ("道路模式需要道路图层（roads），该数据集没有；请上传道路或改用直线距离",
                                 "road mode needs the roads layer, which this dataset lacks; upload roads or use mode=straight"),
    # village locations: where each point comes from, the import report, the 待补坐标 workbook
    "location_line": ("{n} 个村社区：{parts}", "{n} villages: {parts}"),
    "location_given": ("{n} 个有坐标", "{n} with coordinates"),
    "location_placed": ("其中 {n} 个为人工标注", "{n} of them placed by hand"),
    "location_seat": ("{n} 个按乡镇驻地近似", "{n} approximated by the township seat"),
    "location_centre": ("{n} 个按乡镇中心近似", "{n} approximated by the township centre"),
    "location_unknown": ("{n} 个未定位", "{n} not located"),
    "import_report": ("导入：{given} 个有坐标，{approximate} 个近似，{unknown} 个未定位，{dropped} 个已删除，"
                      "{duplicates} 处坐标重复（坐标系 {datum}）",
                      "import: {given} with coordinates, {approximate} approximate, {unknown} not located, "
                      "{dropped} dropped, {duplicates} shared points (datum {datum})"),
    "import_townships": ("乡镇街道 {n} 个：{given} 个有边界，{derived} 个边界由村社区推算（非官方边界），{none} 个未定位",
                         "{n} townships: {given} with a boundary, {derived} with a boundary derived from villages "
                         "(not official), {none} not located"),
    "unlocated_villages": ("未定位村社区：{names}", "villages not located: {names}"),
    "gaps_unconsidered": ("{n} 个村社区未定位，未参与选址", "{n} villages not located: not considered"),
    "distance_unknown": ("距离未知", "distance unknown"),
    "distance_unknown_assigned": ("{n} 位界别群众位置未知（距离未知），按界别和负荷分配：{ids}",
                                  "{n} constituents of unknown location (distance unknown) assigned by sector and "
                                  "load: {ids}"),
    "source_used_dataset": ("使用已存数据集 {name}", "using the stored dataset {name}"),
    "source_used_folder": ("没有名为 {name} 的数据集，读取文件夹 {path}", "no dataset named {name}: reading the folder {path}"),
    "fill_sheet_ignored": ("第 {row} 行（{id}）：{reason}，已跳过", "row {row} ({id}): {reason}; skipped"),
    "fill_sheet_done": ("已更新 {n} 个村社区的坐标", "locations of {n} villages updated"),
    # compiled kernels warmed ahead (geo-service warm)
    "cli_warm_done": ("已预编译 {n} 组计算内核并缓存到磁盘，用时 {time_s:.1f} 秒；之后首次调用无需再编译",
                      "compiled {n} kernel group(s) ahead and cached them on disk in {time_s:.1f} s; "
                      "first calls no longer compile"),
    "cli_warm_none": ("未安装 numba（fast 扩展），无需预编译", "numba (the fast extra) is not installed: nothing to compile"),
    "cli_warm_failed": ("  {name} 预编译失败（首次调用时再编译）：{error}",
                        "  {name} could not be compiled ahead (it compiles on first use): {error}"),
}
MESSAGES.update({
    "contact_min_short": ("活动组 {name}：只有 {n} 个联系点（下限 {min} 个）：服务半径内的候选村社区不足",
                          "group {name}: only {n} contact villages (min {min}): too few candidate villages in reach"),
    "contact_points_short": ("{groups} 个活动组、每组最多 {max} 个联系点：仍有 {n} 个空白村社区（{people} 人）不在服务半径内；"
                             "再增加 {more} 个联系点（{needed} 个活动组）可覆盖其中 {reachable} 个",
                             "{groups} groups x max {max} contact villages leave {n} gap villages ({people} people) "
                             "out of reach; {more} more contact points ({needed} more groups) would reach {reachable} "
                             "of them"),
    "contact_points_short_villages": ("{groups} 个活动组、每组最多 {max} 个联系点：仍有 {n} 个空白村社区不在服务半径内；"
                                      "再增加 {more} 个联系点（{needed} 个活动组）可覆盖其中 {reachable} 个",
                                      "{groups} groups x max {max} contact villages leave {n} gap villages out of "
                                      "reach; {more} more contact points ({needed} more groups) would reach "
                                      "{reachable} of them"),
    "contact_points_short_far": ("{groups} 个活动组、每组最多 {max} 个联系点：仍有 {n} 个空白村社区（{people} 人）不在服务半径内；"
                                 "再增加 {more} 个联系点（{needed} 个活动组）可覆盖其中 {reachable} 个；{far} 个离所有候选村社区都太远",
                                 "{groups} groups x max {max} contact villages leave {n} gap villages ({people} people) "
                                 "out of reach; {more} more contact points ({needed} more groups) would reach "
                                 "{reachable} of them; {far} are out of reach of every candidate"),
    "contact_points_short_villages_far": ("{groups} 个活动组、每组最多 {max} 个联系点：仍有 {n} 个空白村社区不在服务半径内；"
                                          "再增加 {more} 个联系点（{needed} 个活动组）可覆盖其中 {reachable} 个；"
                                          "{far} 个离所有候选村社区都太远",
                                          "{groups} groups x max {max} contact villages leave {n} gap villages out of "
                                          "reach; {more} more contact points ({needed} more groups) would reach "
                                          "{reachable} of them; {far} are out of reach of every candidate"),
    "groups_short_villages": ("{groups} 个活动组、每组最多 {max} 个村社区，容纳不下 {demand} 个村社区：{n} 个村社区未覆盖；"
                              "还需 {needed} 个活动组",
                              "{groups} groups x max {max} cannot take {demand} villages: {n} villages stay "
                              "uncovered; {needed} more groups would be needed"),
    "committees_short_villages": ("{committees} 个专委会、每个 {per} 个乡镇，有 {n} 个服务不足的乡镇（{people} 个空白村社区）"
                                  "没有专委会；还需 {needed} 个专委会",
                                  "{committees} committees x {per} townships leave {n} under-served townships "
                                  "({people} gap villages) without a committee; {needed} more committees would be needed"),
    "gap_not_selected_villages": ("{nearest} 外的候选点可以覆盖它，但新增点放在了能覆盖更多村社区的地方",
                                  "a candidate {nearest} away could cover it, but the new points went where they "
                                  "cover more villages"),
    # one line per relaxed rule (solvers.relaxations): the reason, then the line
    "relax_too_few": ("只有 {n} 个{what}，不够 {cols} 个{who}每个 {asked} 个",
                      "only {n} {what} for {cols} {who} at {asked} each"),
    "relax_too_many": ("{n} 个{what}超过 {cols} 个{who}的上限合计 {cap}", "{n} {what} exceed the total max {cap} "
                       "of {cols} {who}"),
    "relax_locks": ("锁定的 {n} 个{what}超过上限", "{n} locked {what} exceed the max"),
    "relax_too_few_candidates": ("服务半径内的候选村社区不足", "too few candidate villages in reach"),
    # CLI lines of every command (serve, demo, import, export, map, batch, optimise, roster)
    "cli_error": ("错误：{text}", "error: {text}"),
    "cli_bad_lang": ("--lang 只能是 zh 或 en，而不是 {value}", "--lang must be zh or en, got {value}"),
    "cli_bad_choice": ("{option} 只能是 {choices}，而不是 {value}", "{option} must be {choices}, got {value}"),
    "cli_serve": ("geo-service：数据存放在 {where}；请打开 http://{host}:{port}/",
                  "geo-service: storage at {where}; open http://{host}:{port}/"),
    "cli_wrote_counts": ("已写出 {out}：{counts}", "wrote {out}: {counts}"),
    "cli_stored": ("已保存数据集「{id}」第 {version} 版：{counts}", "stored dataset '{id}' version {version}: {counts}"),
    "cli_exists": ("数据集「{id}」已存在；要替换请加 --replace", "dataset '{id}' already exists; use --replace to replace it"),
    "cli_bad_id": ("数据集编号「{id}」不可用：请用 1-64 个字母、数字、下划线或减号，以字母或数字开头",
                   "invalid dataset id '{id}': use 1-64 letters, digits, '_' or '-', starting with a letter or digit"),
    "cli_no_dataset": ("没有数据集「{id}」", "no dataset '{id}'"),
    "cli_need_name": ("请用 --name 给出数据集编号", "give --name for the dataset"),
    "cli_map_wrote": ("已写出 {out}（{w} x {h} 像素，每英寸 {dpi} 点，用时 {s:.1f} 秒）",
                      "wrote {out} ({w} x {h} px at {dpi} dpi, {s:.1f} s)"),
    "cli_map_wrote_html": ("已写出 {out}（单个网页，可离线打开）", "wrote {out} (self-contained)"),
    "cli_bad_params": ("参数无效：{text}", "invalid parameters: {text}"),
    "cli_job": ("已记录为任务 {id}（网页的运行列表可见）", "recorded as job {id} (listed on the web page)"),
    "cli_batch_start": ("批次 {id}{resumed}，运行在：{where}", "batch {id}{resumed} on {where}"),
    "cli_batch_resumed": ("（续跑）", " (resumed)"),
    "cli_batch_local": ("本机集群", "a LocalCluster"),
    "cli_batch_failed": ("失败：{county}（任务 {job}）：{error}", "failed: {county} (job {job}): {error}"),
    "cli_batch_worker_lost": ("计算进程丢失：{worker}{again}", "worker lost: {worker}{again}"),
    "cli_batch_again": ("；它的区县已在别处重跑：{counties}", "; its counties ran again elsewhere: {counties}"),
    "cli_batch_lost": ("丢失（未完成）：{counties}", "lost (not finished): {counties}"),
    "cli_batch_skipped": ("，{n} 个已完成（跳过）", ", {n} already done (skipped)"),
    "cli_batch_report": ("批次 {id}：{n} 个区县：{solved} 个已求解（{by}），{bad} 个不可行（无方案），{failed} 个失败，"
                         "{lost} 个丢失{skipped}，用时 {s:.1f} 秒，{workers} 个计算进程（丢失 {workers_lost} 个，"
                         "重跑 {retried} 个区县；每分钟 {rate:.1f} 个区县）；结果见批量任务记录",
                         "batch {id}: {n} counties: {solved} solved ({by}), {bad} infeasible (no plan), {failed} failed, "
                         "{lost} lost{skipped}, in {s:.1f} s on {workers} worker(s) ({workers_lost} lost, {retried} "
                         "counties retried; {rate:.1f} counties/min); results: job records of kind 'batch'"),
    "cli_batch_none": ("无", "none"),
    "cli_batch_no_match": ("没有与 {pattern} 匹配的数据集", "no stored dataset matches {pattern}"),
    "cli_batch_cluster_lost": ("Dask 集群丢失：{why}。{done} 个区县已完成，{lost} 个丢失；只重跑缺少的：geo-service batch --resume {id}",
                               "the Dask cluster was lost: {why}. {done} counties finished, {lost} lost; run only the "
                               "missing ones with: geo-service batch --resume {id}"),
    "cli_batch_nothing": ("请给出数据集编号或通配符、--province N 或 --resume 批次编号",
                          "give dataset ids/globs, --province N or --resume BATCH_ID"),
    "relaxation_line": ("已放宽：{tier}（{scope}）{rule}要求 {asked}，实际 {given}：{reason}",
                        "relaxed: {tier} ({scope}) {rule} asked {asked}, given {given}: {reason}"),
})

# Inline texts with values of the command lines, workbooks, maps and roster outputs, read through
# message(code, lang, **params); a value's format (``{time_s:.1f}``) is part of the template
MESSAGES.update({
    # command lines (geo_service/cli): progress, results and errors
    "cli_common_input_problems": ("错误：输入有 {n} 个问题；未保存任何内容", "error: {n} problem(s) in the input; nothing was stored"),
    "cli_template_wrote": ("已写出 {n} 个文件：{files}", "wrote {n} file(s): {files}"),
    "cli_template_then": ("填好后运行：{check}", "fill them in, then: {check}"),
    "cli_batch_nothing_was_run": ("{e}；未运行任何区县", "{e}; nothing was run"),
    "cli_batch_generating": ("正在生成 {province} 个模拟区县", "generating {province} synthetic counties"),
    "cli_common_expected_json_object": ("{path}：应为 JSON 对象（{{...}}）", "{path}: expected a JSON object"),
    "cli_common_and_more": ("  ... 另有 {n} 个（用 --json 查看全部）", "  ... and {n} more (use --json to see all)"),
    "cli_common_os_error": ("{path}：{os_error_text}", "{path}: {strerror}"),
    "cli_common_not_valid_json": ("{path} 第 {lineno} 行第 {colno} 列不是有效的 JSON", "{path}: not valid JSON at line {lineno} column {colno}"),
    "cli_common_no_source": ("没有数据集或文件「{source}」", "no dataset, file or folder named '{source}'"),
    "cli_coverage_solving": ("正在求解", "solving {model}"),
    "cli_coverage_drawing_map": ("正在绘制地图", "drawing the {kind} map"),
    "cli_coverage_measuring": ("正在计算覆盖", "measuring coverage ({mode})"),
    "cli_datasets_writing": ("正在写出 {out}", "writing {out}"),
    "cli_posters_wrote": ("已写出 {n} 张海报和 {pdf}", "wrote {n} posters and {pdf}"),
    "cli_posters_paper_must_be": ("--paper 应为 a4 或 a5，收到 {paper!r}", "--paper must be a4 or a5, got {paper!r}"),
    "cli_posters_format_must_be": ("--format 应为 pdf 或 png，收到 {fmt!r}", "--format must be pdf or png, got {fmt!r}"),
    "cli_posters_base_url_must": ("--base-url 应以 http:// 或 https:// 开头，收到 {base_url!r}", "--base-url must start with http:// or https://, got {base_url!r}"),
    "cli_posters_drawing": ("正在绘制 {n} 张海报", "drawing {n} posters"),
    "cli_review_summary": ("{year} 年度考评：{n_members} 名委员，{n_acts} 条台账，{n_talks} 名需约谈", "review {year}: {n_members} members, {n_acts} ledger rows, {n_talks} talks due"),
    "cli_review_year_must_be": ("--year 应为年份，如 2027，收到 {year}", "--year must be a year like 2027, got {year}"),
    "cli_review_invalid_fields": ("{path}：{n_problems} 个字段无效，未做考评", "{path}: {n_problems} invalid field(s), nothing reviewed"),
    "cli_review_stored": ("已保存 {n} 条", "stored {n} rows"),
    "cli_roster_objective_bound_gap": ("目标值 {num}，下界 {num2}，间隙 {gap}，用时 {time_s:.1f} 秒", "objective {num}, bound {num2}, gap {gap}, {time_s:.1f} s"),
    "cli_roster_months_platforms_duties": ("{n_months} 个月，{n_platforms} 个值班平台，{n_duties} 人次值班，{n_consultations} 次协商", "{n_months} months, {n_platforms} platforms, {n_duties} duties, {n_consultations} consultations"),
    "cli_roster_calendar": ("，日历 {n_ics} 个（{ics}）", ", {n_ics} calendar(s) in {ics}"),
    # workbooks and files (geo_service/core/io): notes, templates, errors
    "template_table": ("{layer}.csv（{label}）", "{layer}.csv"),
    "io_availability_head": ("请假表 {name}：", "availability file {name}: "),
    "io_availability_no_such_file": ("请假表 {path}：没有这个文件", "availability file {path}: no such file"),
    "io_availability_bad_suffix": ("应为 .csv 或 .xlsx 文件", "{detail}"),
    "io_availability_columns": ("需要委员列（委员/member）和月份列（月份/months）或开始日期、结束日期两列；现有列：{cols_text}",
                                "needs a member column (委员/member) and months (月份/months) or start and end (开始日期/结束日期); found {cols_text}"),
    "io_writers_simplified": ("{simplified} 个形状超过单元格上限，已简化；精确形状见 GeoPackage/GeoJSON 导出", "{simplified} shapes longer than a cell were simplified; exact shapes in GeoPackage/GeoJSON"),
    # maps (maps/): legends, captions, page words
    "maps_source": ("数据来源：{name}", "Source: {name}"),
    "maps_source_named": ("数据来源：{name}（{id}）", "Source: {name} ({id})"),
    "maps_source_version": ("第 {version} 版", "version {version}"), "maps_source_date": ("日期 {day}", "date {day}"),
    "maps_aggregate_km": ("{km:.1f} 公里", "{km:.1f} km"),
    "maps_aggregate_covered": ("{covered:,} {unit}（{share}）", "{covered:,} {unit} ({share})"),
    "maps_coverage_way": ("（{way}）", " ({way})"),
    "maps_coverage_of_gaps": ("（{n_gaps}）", " (of {n_gaps})"),
    "maps_render_km": ("{s} 公里", "{s} km"),
    "maps_render_min": ("{s} 分钟", "{s} min"),
    "maps_static_assignment_member_homes": ("委员住址（{n_mem}）", "Member homes ({n_mem})"),
    "maps_static_coverage_subtitle": ("村社区到最近站点的直线距离；缺口：超过 {km}", "Straight-line distance from each village to the nearest station; gaps: beyond {km}"),
    "maps_static_coverage_total": ("{total_label}：{total:,}", "{total_label}: {total:,}"),
    "maps_static_coverage_gap_villages": ("缺口村（> {km}）：{n_gaps} 个", "Gap villages (> {km}): {n_gaps}"),
    "maps_static_coverage_top_gap_villages": ("缺口村前 {n_top} 名（编号）", "Top {n_top} gap villages (numbered)"),
    "maps_static_coverage_within": ("{within} {km}：{covered:,}（{share}）", "{within} {km}: {covered:,} ({share})"),
    "maps_static_gaps_subtitle": ("建议新增 {n_sites} 个联系点后，{km} 直线范围内的覆盖变化", "Coverage within {km} (straight line) with {n_sites} proposed contact points"),
    # yearly review workbook (solvers/review.py)
    "review_rule_cap": ("{each} {points:g}，{cap} {cap_points}", "{each} {points:g}, {cap} {cap_points}"),
    # duty roster workbooks and availability files (solvers/roster)
    # a run's outcome with its gap (solvers/results.py)
    "outcome_feasible_within": ("可行解，与最优差距至多 {gap:.1%}", "feasible, within {gap:.1%} of the optimum"),
    "roster_avail_bad_start": ("开始日期 {value!r} 不是日期（应为 2027-03-01 这样）", "start {value!r} is not a date (YYYY-MM-DD)"),
    "roster_avail_bad_end": ("结束日期 {value!r} 不是日期（应为 2027-03-01 这样）", "end {value!r} is not a date (YYYY-MM-DD)"),
    "roster_avail_range_backwards": ("月份范围 {value!r} 的结束早于开始", "months range {value!r} ends before it starts"),
    "roster_avail_bad_month": ("月份 {value!r} 不是 2027-01 这样的月份", "months must be a month like 2027-01, got {value!r}"),
    "roster_avail_no_member": ("委员为空", "member is empty"),
    "roster_avail_unknown_member": ("未知委员 {member!r}（既不是委员编号也不是姓名）", "unknown member {member!r} (neither an id nor a name)"),
    "roster_avail_shared_name": ("姓名 {member!r} 有多位委员（{members}），请填委员编号",
                                 "name {member!r} is shared by members {members}; give the id"),
    "roster_avail_no_period": ("请填月份，或开始日期和结束日期", "give months or start and end"),
    "roster_avail_half_period": ("开始日期和结束日期要一起填", "give both start and end"),
    "roster_avail_end_before_start": ("结束日期 {end} 早于开始日期 {start}", "end {end} is before start {start}"),
    "roster_availability_row": ("第 {row} 行：", "row {row}: "),
})

# the login page's refusals
MESSAGES.update({
    "login_locked_out": ("密钥错误次数过多，请 {wait} 秒后再试。", "Too many wrong keys: try again in {wait} s."),
    "login_bad_key": ("密钥无效。", "That key is not valid."),
    "activities_expected_rows": ("请求体应为一条活动记录（JSON 对象）或 {{\"activities\": [记录, ...]}}。",
                                 "expected an activity object or {{\"activities\": [objects]}}"),
    "activities_expected_changes": ("请求体应为一个 JSON 对象，列出要修改的字段。", "expected a JSON object of changed fields"),
    "login_no_key": ("请输入 API 密钥。", "Enter an API key."),
})

# command-line refusals of a file argument
MESSAGES.update({
    "cli_no_such_file": ("没有这个文件：{path}", "no such file: {path}"),
    "answer_too_large": ("{n} 个点 × k={k} = {rows} 条结果，按 format={format} 约 {mib} MiB，超过上限 {limit_mib} MiB"
                         "（设置 max_nearest_answer_bytes）：请分批提交，每批至多 {fit} 个点（k={k}）{alt}",
                         "{n} points x k={k} = {rows} results would make an answer of about {mib} MiB in format={format}, "
                         "over the limit of {limit_mib} MiB (setting max_nearest_answer_bytes); split the batch into "
                         "requests of at most {fit} points at k={k}{alt}"),
    "answer_too_large_alt": ("，或改用 format=columns（约小 6 倍）", ", or ask for format=columns (about 6 times smaller)"),
    "points_fc_no_features": ("点要素集合（FeatureCollection）需要 features 数组", "a FeatureCollection needs a 'features' array"),
    "points_not_point_feature": ("第 {n} 个要素不是点要素", "feature {i} is not a Point feature"),
    "points_bad_body": ("请求体应为点的数组 [[经度, 纬度], ...]、含 points 数组的对象，或点要素集合（FeatureCollection）",
                        "body must be an array of points, {{\"points\": [...]}} or a FeatureCollection"),
    "points_none": ("至少给出一个点", "give at least one point"),
    "points_need_lonlat": ("每个点对象都需要 lon 和 lat", "every point object needs 'lon' and 'lat'"),
    "points_not_pairs": ("点应为由数字组成的 [经度, 纬度]", "points must be [lon, lat] pairs of numbers"),
    "points_arrow_columns": ("Arrow 数据需要数值列 lon 和 lat（现有：{columns}）",
                             "the Arrow stream needs float columns 'lon' and 'lat' (has: {columns})"),
    "points_column_type": ("列 {column} 应为数值，而不是 {type}", "column '{column}' must be numeric, not {type}"),
    "points_column_empty": ("列 {column} 第 {n} 行为空", "column '{column}' is empty in row {i}"),
    "points_npy_shape": ("npy 数组应为 n 行 2 列的数字（经度、纬度），实为 {dtype} {shape}",
                         "the .npy array must be numbers of shape (n, 2) (lon, lat), got {dtype} {shape}"),
    "cli_no_such_path": ("没有这个文件或文件夹：{path}", "no such file or folder: {path}"),
    "cli_need_input": ("请给出文件或文件夹（GeoPackage、文件夹、.xlsx 或 .zip），或用 --layer 图层=文件",
                       "give a file or folder (GeoPackage, folder, .xlsx or .zip), or --layer LAYER=FILE"),
    "cli_layer_opt_form": ("--layer 的写法是 图层=文件（如 villages=村.csv），而不是「{item}」",
                           "--layer takes LAYER=FILE (e.g. villages=村.csv), not '{item}'"),
    "cli_county_folder_help": (
        "区县文件夹每个图层一个文件（CSV、XLSX、GeoJSON、Shapefile），以图层命名：\n"
        "  必需：townships.csv（名称，驻地的经度、纬度，或边界），villages.csv（名称、乡镇、经度、纬度）\n"
        "  可选：stations.csv（名称、类型、经度、纬度）、members.csv、groups.csv、committees.csv、constituents.csv、\n"
        "        道路（roads.shp 或 Geofabrik 的 gis_osm_roads_free_1.shp）、区县边界（county.geojson）\n"
        "  `geo-service template --out my-county/` 写出带说明的模板；也可用 --layer 图层=文件 逐个给出",
        "a county folder holds one file per layer (CSV, XLSX, GeoJSON, Shapefile), named after it:\n"
        "  required: townships.csv (名称, 经度, 纬度 of the seat, or polygons), villages.csv (名称, 乡镇, 经度, 纬度)\n"
        "  optional: stations.csv (名称, 类型, 经度, 纬度), members.csv, groups.csv, committees.csv, constituents.csv,\n"
        "            roads (roads.shp or Geofabrik gis_osm_roads_free_1.shp), a county boundary (county.geojson)\n"
        "  `geo-service template --out my-county/` writes them with notes; or give files with --layer LAYER=FILE"),
})

# the duty roster's diagnostics (solvers/roster): whole sentences, and the parts (fixes, the distance
# cap, the rules that limit who may serve, English plural words) passed to them as nested messages
MESSAGES.update({
    "roster_platform_short_pre": ("{mo}：{name} 需要 {need} 名委员值班，{cap}可值班的只有 {k} 名；{fix}",
                                  "{mo}: {name} needs {need} {members}, only {k} {be} available{cap}; {fix}"),
    "roster_member_short_pre": ("{name}（{id}）最多能值班 {can} 个月，少于每位委员值班月数下限 {mn}；{fix}",
                                "{name} ({id}) can serve at most {can} month(s){cap}, member_min is {mn}; {fix}"),
    "roster_total_short": ("委员不够：各平台共需 {demand} 人次值班，委员最多能承担 {supply} 人次；请提高每位委员值班月数上限或降低每平台每月值班人数下限",
                           "platforms need {demand} member-months, members can give at most {supply}; "
                           "raise member_max or lower per_platform_min"),
    "roster_total_over": ("值班名额不够：{platforms} 个平台 × {free} 个月 × 每月最多 {ppmax} 人 = {room} 人次，"
                          "而 {nfair} 位委员每人至少 {mmin} 个月共需 {mins} 人次；"
                          "请将每平台每月值班人数上限提高到 {ppm}，或再增加 {more} 个值班平台，或降低每位委员值班月数下限",
                          "too few duty slots: {platforms} platforms x {free} months x at most {ppmax} = {room} "
                          "member-months, but {nfair} members at least {mmin} month(s) each need {mins}; "
                          "raise per_platform_max to {ppm}, add {more} platform(s) or lower member_min"),
    "roster_sectors_short_pre": ("{name}{cap}只有 {k} 个界别的委员，少于每平台界别数下限 {smin}；{fix}",
                                 "{name}: members of only {k} sector(s){cap}, sectors_min is {smin}; {fix}"),
    "roster_platform_short": ("{mo}：{name} 缺 {v} 名值班委员（{why}合起来不够）；请降低每平台每月值班人数下限、提高每位委员值班月数上限或增加可值班委员",
                              "{mo}: {name} is short of {v} member(s) on duty ({why} together); lower "
                              "per_platform_min, raise member_max or add availability"),
    "roster_member_short": ("{name}（{id}）只能值班 {k} 个月，少于每位委员值班月数下限；{fix}",
                            "{name} ({id}) can serve only {k} month(s) with the other rules; {fix}"),
    "roster_member_over": ("{name}（{id}）须值班 {n} 个月（锁定/已定），超过每位委员值班月数上限；请将每位委员值班月数上限提高到 {n}",
                           "{name} ({id}) must serve {n} months (locks, frozen months); raise member_max to {n}"),
    "roster_sectors_short": ("{name} 本期只能有 {k} 个界别的委员值班；请将每平台界别数下限降到 {k}",
                             "{name} can see only {k} sector(s) this period; lower sectors_min to {k}"),
    "roster_availability": ("{mo}：{platform} 需要 {member} 在不可值班的月份值班；请增加其可值班时间",
                            "{mo}: {platform} needs {member} ({id}) in a month marked unavailable; add availability"),
    "roster_members_without_duty": ("因值班名额不够，{n} 位委员本期排不上值班（{names}）",
                                    "with too few duty slots, {n} members get no duty this period ({ids})"),
    "roster_members_without_duty_more": ("因值班名额不够，{n} 位委员本期排不上值班（{names}等）",
                                         "with too few duty slots, {n} members get no duty this period ({ids}, ...)"),
    "roster_max_distance": ("有 {n} 次值班超出 {cap} 公里；将最远值班距离提高到 {to} 公里即可行（最远：{mo} {member} 到 {platform}）",
                            "{n} duties lie beyond {cap} km; raise max_distance_m to {to} km "
                            "(farthest: {mo} {id} to {platform})"),
    "roster_nothing_no_platforms": ("没有平台（站点）", "no platforms"),
    "roster_nothing_no_members": ("没有委员", "no members"),
    "roster_nothing_no_months": ("没有需要安排的月份", "no months left to plan"),
    "roster_no_solution": ("在时间限制内未找到轮值表，请延长求解时限",
                           "no roster found within the time limit; raise time_limit_s"),
    "roster_fairness_relaxed": ("无法让每位委员值班月数相差不超过 {spread}，已放宽到 {sp}",
                                "members' duty months cannot differ by at most {spread}; relaxed to {sp}"),
    "roster_not_proven": ("在时间限制内未找到满足全部规则的轮值表（也未证明不可行）；下面是放宽规则后的方案",
                          "no roster meeting every rule was found within the time limit (nor proven "
                          "impossible); the roster shown relaxes some rules"),
    "roster_infeasible": ("规则之间相互冲突（锁定、已定月份或连续月份规则）",
                          "the rules conflict (locks, frozen months or the consecutive-month rule)"),
    # parts
    "roster_cap_within": ("{km} 公里内", " within {km} km"),
    "roster_cap_sectors": ("：{km} 公里内", " within {km} km"),
    "roster_word_member": ("", "member"), "roster_word_members": ("", "members"),
    "roster_word_is": ("", "is"), "roster_word_are": ("", "are"),
    "roster_fix_platform_distance": ("将最远值班距离提高到 {km} 公里或增加可值班委员",
                                     "raise max_distance_m to {km} km or add availability"),
    "roster_fix_platform_availability": ("增加该月可值班委员或降低每平台每月值班人数下限",
                                         "add availability or lower per_platform_min"),
    "roster_fix_member_distance": ("将最远值班距离提高到 {km} 公里，或将每位委员值班月数下限降到 {can}",
                                   "raise max_distance_m to {km} km or lower member_min to {can}"),
    "roster_fix_member_availability": ("增加其可值班月份，或将每位委员值班月数下限降到 {can}",
                                       "add availability or lower member_min to {can}"),
    "roster_fix_sectors_distance": ("将最远值班距离提高到 {km} 公里或将每平台界别数下限降到 {k}",
                                    "raise max_distance_m to {km} km or lower sectors_min to {k}"),
    "roster_fix_sectors": ("将每平台界别数下限降到 {k}", "lower sectors_min to {k}"),
    "roster_fix_member_distance_availability": ("请将每位委员值班月数下限降到 {k} 、放宽最远值班距离或增加可值班月份",
                                                "lower member_min to {k} or raise max_distance_m or add availability"),
    "roster_fix_member_distance_only": ("请将每位委员值班月数下限降到 {k} 或放宽最远值班距离",
                                        "lower member_min to {k} or raise max_distance_m"),
    "roster_fix_member_availability_only": ("请将每位委员值班月数下限降到 {k} 或增加可值班月份",
                                            "lower member_min to {k} or add availability"),
    "roster_fix_member_slots": ("请将每位委员值班月数下限降到 {k} 或提高每平台每月值班人数上限",
                                "lower member_min to {k} or raise per_platform_max"),
    "roster_rules_availability_distance": ("可值班月份、距离、每人最多月数、连续月份",
                                           "availability, distance, member_max, consecutive-month rules"),
    "roster_rules_availability": ("可值班月份、每人最多月数、连续月份", "availability, member_max, consecutive-month rules"),
    "roster_rules_distance": ("距离、每人最多月数、连续月份", "distance, member_max, consecutive-month rules"),
    "roster_rules": ("每人最多月数、连续月份", "member_max, consecutive-month rules"),
    # the roster problem's and its consultations' notes
    "roster_road_unreachable": ("{n} 个委员-平台组合经道路不可达，按直线距离、每小时 5 公里计",
                                "{n} member-platform pairs unreachable by road; costed at straight distance at 5 km/h"),
    "roster_distance_unknown": ("{n} 位委员位置未知（距离未知），按界别和负荷排班：{ids_zh}",
                                "{n} members of unknown location (distance unknown) rostered by sector and load: {ids}"),
    "roster_holidays_missing": ("{year} 年没有节假日表（data/holidays/{year}.csv），接待日未避开节假日",
                                "no holiday list for {year} (data/holidays/{year}.csv): reception dates ignore holidays"),
    "roster_holidays_incomplete": ("{year} 年节假日表不完整（仅法定假日，无调休安排），请按国务院通知更新",
                                   "the {year} holiday list is incomplete (statutory days only, no make-up days): "
                                   "update it from the State Council notice"),
    "roster_lock_unavailable": ("锁定：{name} 在 {mo} 不可值班，仍按锁定安排", "lock: {id} is unavailable in {mo}; kept as locked"),
    "roster_previous_outside": ("上一轮值表中 {n} 条值班不在本期或平台已不存在，已忽略",
                                "{n} duties of the previous roster are outside this period or platform set and were ignored"),
    "roster_member_unavailable": ("{name}（{id}）在本期均不可值班，不计入最少值班月数与公平性",
                                  "{id} is unavailable in every month to plan: left out of member_min and fairness"),
    "roster_no_townships": ("平台没有所属乡镇，未安排一季一协商", "platforms have no township: no quarterly consultations planned"),
    "roster_consultations_unsolved": ("未能在时限内安排一季一协商的委员",
                                      "consultation members could not be chosen within the time limit"),
    "roster_consultation_sector_missing": ("{n} 个协商界别席位无法安排委员（同一周冲突）",
                                           "{n} consultation sector seats left empty (same-week conflicts)"),
    "roster_consultation_note": ("{n} 场协商{note}", "{n} consultation(s): {note}"),
    "roster_note_no_committees": ("没有专委会：数据集没有专委会（请导入 专委会.csv）",
                                  "no committee: the dataset has no committees (import committees.csv)"),
    "roster_note_township_unassigned": ("没有专委会：该乡镇不在专委会的责任乡镇中（专委会分配只安排服务不足的乡镇；"
                                        "可提高每个专委会乡镇数，或选择分配全部乡镇）",
                                        "no committee: no committee is responsible for this township (the townships -> "
                                        "committees tier assigns the under-served ones; raise townships per committee or "
                                        "assign all townships)"),
    "roster_note_no_sectors": ("没有委员：该乡镇没有界别群众，平台也没有界别，无从邀请",
                               "no members: the township has no constituents and the platform no sectors to invite"),
    "roster_note_no_members": ("没有委员：所需界别的委员同一周都已有协商，或该界别没有委员",
                               "no members: the members of the sectors asked for have a consultation that week, or "
                               "the sector has none"),
    # the constituents tier's distance warnings (solvers/pipeline.py)
    "constituents_long_distance": ("{n} 名界别群众联系的委员远于 {km:g} 公里：{groups}",
                                   "{n} constituents are assigned to members more than {km:g} km away: {groups}"),
    "constituents_long_distance_group": ("{sector}界别：{where} {n} 名（最远 {km:.0f} 公里）",
                                         "{sector}: {n} in {where} (up to {km:.0f} km)"),
    "constituents_too_far": ("{sector}界别：{place} 有 {n} 名界别群众 {km:g} 公里内没有本界别委员；在当地再增加 {more} 名委员即可覆盖",
                             "{sector}: {n} constituents in {place} have no member within {km:g} km; "
                             "{more} more members there would cover them"),
    "constituents_too_far_one": ("{sector}界别：{place} 有 {n} 名界别群众 {km:g} 公里内没有本界别委员；在当地再增加 {more} 名委员即可覆盖",
                                 "{sector}: {n} constituents in {place} have no member within {km:g} km; "
                                 "{more} more member there would cover them"),
})
