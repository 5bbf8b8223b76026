"""Value vocabularies (enums), optimisation parameter names, table titles and older import spellings."""

from __future__ import annotations

from ..domain import LAYERS, STATION_KIND_LABELS

#: Enum vocabularies: value -> (zh, en).
ENUMS: dict[str, dict[str, tuple[str, str]]] = {
    "station_kind": {k: (v["zh"], v["en"]) for k, v in STATION_KIND_LABELS.items()},
    "role": {"convener": ("召集人", "Convener"), "deputy_convener": ("副召集人", "Deputy convener"),
             "member": ("委员", "Member"), "": ("", "")},
    "job_status": {"accepted": ("排队中", "queued"), "running": ("运行中", "running"),
                   "successful": ("已完成", "finished"), "failed": ("失败", "failed"),
                   "dismissed": ("已取消", "cancelled")},
    "outcome": {"optimal": ("最优", "optimal"), "feasible": ("可行", "feasible"),
                "infeasible": ("不可行", "infeasible"), "nothing-to-do": ("无需求解", "nothing to do"),
                "nothing_to_do": ("无需求解", "nothing to do"), "time_limit": ("达到时限", "time limit"),
                "error": ("出错", "error"), "skipped": ("未运行", "skipped")},
    "move_reason": {"not_allowed": ("原分配不再允许", "no longer allowed"),
                    "capacity": ("容量限制", "capacity"), "improvement": ("距离更近", "improvement"),
                    "member_left": ("原委员已离开", "member left"),
                    "target_removed": ("原目标已删除", "target removed"),
                    "too_far": ("附近无本界别委员", "no member within reach"), "added": ("新增", "added"), "removed": ("已移除", "removed"), "changed": ("已调整", "changed"),
                    "": ("", "")},
    "diagnostic": {"capacity": ("容量不足", "capacity"), "fallback": ("跨界别兜底", "fallback"),
                   "location": ("选址", "location"), "locks": ("锁定冲突", "locks"),
                   "max_load": ("超过上限", "max load"), "min_load": ("低于下限", "min load"),
                   "no_member": ("无可分配委员", "no member"), "pins": ("指定冲突", "pins"),
                   "reachability": ("不可达", "reachability"), "solver": ("求解器提示", "solver"),
                   "nothing_to_do": ("无需求解", "nothing to do"),
                   "long_distance": ("远距离联系", "long distance"),
                   "max_distance": ("附近无本界别委员", "no member within reach")},
    "tier": {"constituents": ("界别群众", "constituents"), "villages": ("村社区", "villages"),
             "townships": ("乡镇街道", "townships"), "stations": ("站点", "stations"),
             "groups": ("界别活动组", "groups"), "committees": ("专委会", "committees"),
             "compactness": ("紧凑性", "compactness")},
    "cost_unit": {"m": ("米", "m"), "s": ("秒", "s")},
    "solver": {"nothing_to_do": ("无需求解", "nothing to do"), "nothing-to-do": ("无需求解", "nothing to do")},
    "mode": {"straight": ("直线距离", "straight-line"), "road": ("道路用时", "road time")},
    "villages_scope": {"gaps": ("未覆盖村社区", "gaps only"), "all": ("全部村社区", "all villages"),
                       "list": ("指定村社区", "listed villages")},
    "tier2_model": {"covering": ("最大覆盖", "covering"), "priority": ("按人口优先", "largest population")},
    "on_infeasible": {"relax_max": ("放宽上限", "relax the max"), "cross_sector": ("跨界别兜底", "cross-sector")},
    "bool": {"True": ("是", "yes"), "False": ("否", "no"), "true": ("是", "yes"), "false": ("否", "no")},
    "coverage_change": {"b": ("已覆盖", "covered now"), "a": ("新增覆盖", "newly covered"),
                        "u": ("仍未覆盖", "still uncovered")},
    "gap_reason": {"no_candidate": ("范围内无候选点", "no candidate in reach"),
                   "not_selected": ("候选点未入选", "candidate not selected"), "capacity": ("容量不足", "capacity")},
    "problem": {"unreadable_file": ("文件无法读取", "unreadable file"), "out_of_range": ("超出范围", "out of range"),
                "wrong_crs": ("坐标系不对", "wrong CRS"), "missing_value": ("缺少值", "missing value"),
                "filled_default": ("已填默认值", "filled with a default"), "bad_number": ("不是数字", "not a number"),
                "unsupported_file": ("不支持的文件", "unsupported file"), "unknown_sector": ("未知界别", "unknown sector"),
                "swapped_coordinates": ("经纬度颠倒", "swapped coordinates"), "missing_layer": ("缺少图层", "missing layer"),
                "missing_geometry": ("缺少坐标", "missing geometry"), "missing_column": ("缺少列", "missing column"),
                "ignored_layer": ("已忽略的图层", "ignored layer"), "duplicate_layer": ("图层重复", "duplicate layer"),
                "dropped_no_coordinates": ("无坐标，已跳过", "dropped: no coordinates"),
                "wrong_geometry_type": ("几何类型不对", "wrong geometry type"), "unknown_role": ("未知职务", "unknown role"),
                "unknown_reference": ("引用的编号不存在", "unknown reference"), "unknown_layer": ("未知图层", "unknown layer"),
                "unknown_kind": ("未知站点类型", "unknown kind"), "shared_coordinates": ("坐标重复", "shared coordinates"),
                "invalid_geometry": ("几何无效", "invalid geometry"), "ignored_file": ("已忽略的文件", "ignored file"),
                "far_from_seat": ("离乡镇驻地过远", "far from the township seat"), "empty_layer": ("图层为空", "empty layer"),
                "duplicate_id": ("编号重复", "duplicate id")},
    "entity": {"members": ("委员", "members"), "groups": ("界别活动组", "groups"), "committees": ("专委会", "committees"),
               "stations": ("站点", "stations"), "constituents": ("界别群众", "constituents"),
               "villages": ("村社区", "villages"), "townships": ("乡镇街道", "townships")},
    "layer": {k: (v.labels.get("zh", k), v.labels.get("en", k)) for k, v in LAYERS.items()},
    # 码上议事
    "message_status": {"received": ("已收到", "received"), "assigned": ("已分派", "assigned"),
                       "in_progress": ("处理中", "in progress"), "answered": ("已答复", "answered"),
                       "closed": ("已办结", "closed")},
    "escalation": {"0": ("委员办理", "member"), "1": ("召集人督办", "group convener"), "2": ("政协办公室督办", "office")},
    "routing_basis": {"station_duty": ("本月值班委员", "this month's duty member"),
                      "station_members": ("站点委员", "member of the station"),
                      "sector_place": ("所在村社区的本界别委员", "member of the sector nearest the village"),
                      "place": ("所在村社区的责任委员", "member responsible for the village")},
    # liaison ledger and yearly review
    "activity_kind": {"contact": ("联系群众", "contact"), "duty": ("值班", "duty"),
                      "reception": ("接待日", "reception day"), "consultation": ("协商", "consultation"),
                      "opinion": ("社情民意", "opinion")},
    "activity_way": {"visit": ("走访", "visit"), "forum": ("座谈", "forum"),
                     "reception_day": ("接待日", "reception day"), "phone": ("电话", "phone"),
                     "wechat": ("微信", "WeChat"), "inspection": ("调研视察", "inspection")},
    "activity_status": {"held": ("已履职", "held"), "missed": ("缺席", "missed"), "swapped": ("已换班", "swapped"),
                        "submitted": ("已提交", "submitted"), "forwarded": ("已转办", "forwarded"),
                        "adopted": ("已采纳", "adopted"), "answered": ("已答复", "answered"),
                        "rejected": ("未采纳", "rejected")},
    "ledger_entity": {"constituents": ("界别群众", "constituents"), "villages": ("村社区", "villages"),
                      "stations": ("站点", "contact points"), "townships": ("乡镇街道", "townships"),
                      "sectors": ("界别", "sectors")},
    "quota": {"constituents": ("联系群众人数", "constituents reached"), "people": ("联系群众人次", "people reached"),
              "receptions": ("每月接待", "receptions per month"), "consultations": ("参加协商", "consultations"),
              "opinions": ("社情民意", "opinions"), "duties": ("值班履职", "duties held")},
    "review_rule": {"base": ("基础分", "base"), "contact": ("联系群众", "contacts"), "duty": ("值班履职", "duties held"),
                    "duty_missed": ("值班缺席", "duties missed"), "reception": ("接待日", "reception days"),
                    "consultation": ("参加协商", "consultations"), "opinion": ("社情民意", "opinions"),
                    "opinion_adopted": ("社情民意被采纳", "opinions adopted"),
                    "satisfaction": ("群众满意", "satisfied"), "dissatisfied": ("群众不满意", "dissatisfied"),
                    "quota_bonus": ("全部达标加分", "all quotas met")},
    # where a location comes from
    "location_source": {"given": ("有坐标", "given"), "township_seat": ("按乡镇驻地近似", "township seat"),
                        "township_centre": ("按乡镇中心近似", "township centre"), "placed": ("人工标注", "placed"),
                        "unknown": ("未定位", "not located")},
    "boundary_source": {"given": ("官方边界", "given"), "derived": ("推算边界（非官方）", "derived (not official)"),
                        "none": ("未定位", "none")},
}

# liaison ledger: the reason a ledger-aware re-run moved a constituent (minimal-change report)
ENUMS["move_reason"]["ledger_unreached"] = ("台账显示原委员未联系", "not reached by the assigned member (ledger)")

# import problems about locations
ENUMS["problem"].update({"unknown_value": ("未知取值", "unknown value"),
                         "approximate_location": ("按乡镇近似定位", "approximate location"),
                         "unknown_location": ("未定位", "location unknown"),
                         "fill_unusable": ("无法使用的补填行", "unusable filled row")})

#: Optimisation parameters as the 说明 sheet names them: key -> (zh, en, enum of the value or None).
PARAMS: dict[str, tuple[str, str, str | None]] = {
    "tiers": ("优化层级", "Tiers", "tier"),
    "constituents_min": ("每位委员联系群众下限", "Constituents per member, min", None),
    "constituents_target": ("每位委员联系群众目标", "Constituents per member, target", None),
    "constituents_max": ("每位委员联系群众上限", "Constituents per member, max", None),
    "villages_min": ("每个活动组村社区下限", "Villages per group, min", None),
    "villages_target": ("每个活动组村社区目标", "Villages per group, target", None),
    "villages_max": ("每个活动组村社区上限", "Villages per group, max", None),
    "target_penalty": ("偏离目标惩罚(米)", "Target penalty (m)", None),
    "townships_per_committee": ("每个专委会乡镇数", "Townships per committee", None),
    "all_townships": ("分配全部乡镇", "All townships", "bool"),
    "gap_threshold_m": ("空白阈值(米)", "Gap threshold (m)", None),
    "gap_threshold_s": ("空白阈值(秒)", "Gap threshold (s)", None),
    "mode": ("距离方式", "Mode", "mode"),
    "villages": ("覆盖村社区范围", "Villages covered", "villages_scope"),
    "village_ids": ("指定村社区", "Village IDs", None),
    "locks": ("锁定分配数", "Locked assignments", None),
    "minimal_change": ("最少调整", "Minimal change", "bool"),
    "churn_weight": ("调整惩罚(米)", "Churn weight (m)", None),
    "time_limit_s": ("求解时限(秒)", "Time limit (s)", None),
    "seed": ("随机种子", "Seed", None),
    "num_workers": ("求解线程数", "Workers", None),
    "use_member_pins": ("采用委员指定村站", "Use member pins", "bool"),
    "allow_cross_sector": ("允许跨界别", "Allow cross-sector", "bool"),
    "on_infeasible": ("不可行时", "On infeasible", "on_infeasible"),
    "cross_sector_penalty": ("跨界别惩罚(米)", "Cross-sector penalty (m)", None),
    "compactness": ("紧凑性权重", "Compactness", None),
    "station_capacity_default": ("站点默认容量", "Default station capacity", None),
    "host_kinds": ("可入驻站点类型", "Host kinds", "station_kind"),
    "sector_mismatch_penalty": ("界别不符惩罚(米)", "Sector mismatch penalty (m)", None),
    "penalty_speed_kmh": ("惩罚折算速度(公里/小时)", "Penalty speed (km/h)", None),
    "tier2_model": ("联系点选择方式", "Contact point choice", "tier2_model"),
    "contact_travel_weight": ("联系点路程权重(人/公里)", "Contact travel weight (persons/km)", None),
    "long_distance_m": ("远距离阈值(米)", "Long distance (m)", None),
    "max_distance_m": ("最远联系距离(米)", "Max distance (m)", None),
    # duty roster
    "start": ("起始月份", "First month", None),
    "months": ("月数", "Months", None),
    "platforms": ("值班平台来源", "Platforms", None),
    "platform_kinds": ("值班平台类型", "Platform kinds", "station_kind"),
    "per_platform_min": ("每平台每月值班人数下限", "Members per platform and month, min", None),
    "per_platform_max": ("每平台每月值班人数上限", "Members per platform and month, max", None),
    "member_min": ("每位委员值班月数下限", "Duty months per member, min", None),
    "member_max": ("每位委员值班月数上限", "Duty months per member, max", None),
    "fairness_spread": ("值班月数最大差", "Fairness spread", None),
    "allow_consecutive": ("允许连续两月同一平台", "Allow consecutive months", "bool"),
    "sectors_min": ("每平台界别数下限", "Sectors per platform, min", None),
    "roster_max_distance_m": ("最远值班距离(米)", "Max distance (m)", None),
    "replan_from": ("重新排班起始月", "Re-plan from", None),
    "reception_weekday": ("接待日星期(0=周一)", "Reception weekday (0 = Monday)", None),
    "reception_week": ("接待日所在周", "Reception week of month", None),
    "consultations": ("一季一协商", "Consultations", "bool"),
}

#: Sheet / table titles of result tables (Excel allows 31 characters).
TABLES: dict[str, tuple[str, str]] = {
    "responsibility": ("界别责任区一览表", "Responsibility table"), "members": ("委员", "Members"),
    "groups": ("界别活动组", "Groups"), "committees": ("专委会", "Committees"),
    "stations": ("站点", "Stations"), "constituents": ("界别群众", "Constituents"),
    "uncovered": ("未覆盖村社区", "Uncovered villages"), "summary": ("求解概况", "Summary"),
    "long_distances": ("远距离联系", "Long distances"),
    "proposed": ("建议新增站点", "Proposed stations"), "coverage": ("覆盖情况", "Coverage"),
    "notes": ("说明", "Notes"),
    "roster": ("轮值表", "Roster"), "member_duties": ("委员值班", "Member duties"),
    "reception_days": ("接待日", "Reception days"), "consultations": ("一季一协商", "Consultations"),
    "duty_list": ("值班明细", "Duties"),
    # 码上议事
    "messages": ("群众留言", "Messages"), "messages_by_township": ("按乡镇统计", "By township"),
    "messages_by_sector": ("按界别统计", "By sector"), "messages_by_member": ("按委员统计", "By member"),
    "handoff_12345": ("转12345热线", "Hand-off to 12345"),
    # liaison ledger and yearly review
    "ledger": ("联系台账", "Ledger"), "ledger_template": ("台账导入模板", "Ledger template"),
    "implementation": ("落实情况", "Implementation"), "not_reached": ("未联系对象", "Not reached"),
    "village_contacts": ("村社区联系情况", "Village contacts"), "progress": ("委员完成情况", "Member progress"),
    "ranking": ("考评排名", "Review ranking"), "review_items": ("考评明细", "Review items"),
    "review_rules": ("计分规则", "Scoring rules"),
    # villages lacking a given location, with columns to fill
    "fill_locations": ("待补坐标", "Locations to fill"),
}

#: Older Chinese spellings accepted on import (reading only; never written).
EXTRA_ALIASES: dict[str, tuple[str, ...]] = {
    "township_id": ("乡镇",), "village_id": ("村",), "county_id": ("区县",), "group_id": ("活动组",),
    "committee_id": ("专委会",), "convener_id": ("召集人",), "station_id": ("站点", "工作站编号"),
    "class": ("等级",), "role": ("角色",),
}


# --- honest outcomes: relaxed rules, wording by weight, every CLI line in the user's words ---
ENUMS["outcome"].update({"relaxed": ("最优（已放宽）", "optimal (rules relaxed)")})
ENUMS["solver"].update({"min_cost_flow": ("最小费用流", "min-cost flow"), "highs_mip": ("混合整数规划", "mixed-integer programme"),
                        "cp_sat": ("约束规划", "constraint programming")})
PARAMS.update({"station_capacity": ("站点容量", "Station capacity", None),
               "township_committees": ("乡镇-专委会对应", "Township committees", None),
               "consultation_month": ("协商所在季度月份", "Consultation month of the quarter", None),
               "consultation_sectors": ("每场协商界别数", "Sectors per consultation", None),
               "platform_ids": ("指定值班平台", "Platform IDs", None)})
#: Request arguments of the routes and commands, named in a refused request's words.
PARAMS.update({"thresholds_m": ("覆盖距离阈值(米)", "Thresholds (m)", None),
               "thresholds_s": ("覆盖时间阈值(秒)", "Thresholds (s)", None),
               "thresholds": ("覆盖阈值", "Thresholds", None),
               "limit": ("条数上限", "Limit", None), "bbox": ("范围框", "Bounding box", None),
               "dpi": ("分辨率(dpi)", "Resolution (dpi)", None), "paper": ("纸张", "Paper", None),
               "orientation": ("纸张方向", "Orientation", None), "width_mm": ("宽度(毫米)", "Width (mm)", None),
               "height_mm": ("高度(毫米)", "Height (mm)", None), "fmt": ("文件格式", "Format", None),
               "period": ("时段", "Period", None), "kinds": ("站点类型", "Station kinds", None),
               "year": ("年度", "Year", None), "datasets": ("数据集", "Datasets", None)})
ENUMS.update({"responsibility_kind": {"group": ("界别活动组", "group"), "committee": ("专委会", "committee")}})
# how the ends of a distance were located (geo_service.core.locations.DISTANCE_BASES)
ENUMS.update({"distance_basis": {"coordinates": ("坐标", "coordinates"),
                                 "township_seat": ("按乡镇驻地近似", "approx.: township seat"),
                                 "township_centre": ("按乡镇中心近似", "approx.: township centre"),
                                 "unknown": ("未定位", "not located")}})
