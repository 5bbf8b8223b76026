"""The one glossary: zh/en names of every field, enum value and unit users see.

Tables, spreadsheets, API labels and the importers' header aliases all read their words from
here, so a field has exactly one Chinese name everywhere (``village_id`` is always 村社区编号).
Older spellings stay accepted on import through :data:`EXTRA_ALIASES`.

A field may carry a display unit: :func:`header` writes ``人口(人)`` or ``总距离(公里)``, and
:func:`display_value` converts and rounds the stored value (metres -> kilometres with 1 decimal,
seconds -> minutes with 1 decimal, persons as integers). Pure data and functions, no IO.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .domain import LAYERS, STATION_KIND_LABELS

LANGS = ("zh", "en")


@dataclass(frozen=True)
class Unit:
    """A display unit: ``scale`` converts the stored value, ``decimals`` rounds it (0: integer)."""

    zh: str
    en: str
    scale: float = 1.0
    decimals: int | None = None


#: Display units. ``km`` and ``min`` convert from the stored metres and seconds.
UNITS: dict[str, Unit] = {
    "km": Unit("公里", "km", 0.001, 1),
    "min": Unit("分钟", "min", 1 / 60, 1),
    "s": Unit("秒", "s", 1.0, 1),
    "persons": Unit("人", "persons", 1.0, 0),
    "count": Unit("个", "count", 1.0, 0),
    "kmh": Unit("公里/小时", "km/h", 1.0, None),
    "deg": Unit("度", "°", 1.0, None),
}


@dataclass(frozen=True)
class Field:
    """One field as users see it: its Chinese and English names, unit and value vocabulary."""

    zh: str
    en: str
    unit: str | None = None
    enum: str | None = None
    decimals: int | None = None  # rounding without a unit (gap, objective)


def _f(zh: str, en: str, unit: str | None = None, enum: str | None = None, decimals: int | None = None) -> Field:
    return Field(zh, en, unit, enum, decimals)


#: Every field name used in layers, result tables and API tables -> its one zh/en name.
FIELDS: dict[str, Field] = {
    # dataset layers
    "id": _f("编号", "ID"),
    "name": _f("名称", "Name"),
    "lon": _f("经度", "Longitude"),
    "lat": _f("纬度", "Latitude"),
    "wkt": _f("几何", "Geometry (WKT)"),
    "population": _f("人口", "Population", "persons"),
    "kind": _f("类型", "Kind", enum="station_kind"),
    "sector": _f("界别", "Sector"),
    "sectors": _f("界别列表", "Sectors"),
    "township_id": _f("乡镇编号", "Township ID"),
    "village_id": _f("村社区编号", "Village ID"),
    "county_id": _f("区县编号", "County ID"),
    "capacity": _f("容量", "Capacity"),
    "group_id": _f("活动组编号", "Group ID"),
    "committee_id": _f("专委会编号", "Committee ID"),
    "convener_id": _f("召集人编号", "Convener ID"),
    "station_id": _f("站点编号", "Station ID"),
    "class": _f("道路等级", "Road class"),
    "speed_kmh": _f("速度", "Speed", "kmh"),
    "role": _f("职务", "Role", enum="role"),
    "is_seat": _f("驻地", "Township seat", enum="bool"),
    "phone": _f("电话", "Phone"),
    "urban_rural_class": _f("城乡分类代码", "Urban-rural class"),
    # result tables
    "member_id": _f("委员编号", "Member ID"),
    "member_name": _f("委员", "Member"),
    "group_name": _f("界别活动组", "Group"),
    "committee_name": _f("专委会", "Committee"),
    "station_name": _f("站点名称", "Station"),
    "station_kind": _f("站点类型", "Station kind", enum="station_kind"),
    "constituents": _f("联系群众数", "Constituents", "persons"),
    "constituent_id": _f("群众编号", "Constituent ID"),
    "villages": _f("责任村社区", "Villages"),
    "village_ids": _f("责任村社区编号", "Village IDs"),
    "n_villages": _f("村社区数", "Villages (count)", "count"),
    "village_name": _f("村社区", "Village"),
    "townships": _f("责任乡镇", "Townships"),
    "township_ids": _f("责任乡镇编号", "Township IDs"),
    "n_townships": _f("乡镇数", "Townships (count)", "count"),
    "township_name": _f("乡镇", "Township"),
    "covered_population": _f("覆盖人口", "Covered population", "persons"),
    "uncovered_population": _f("未覆盖人口", "Uncovered population", "persons"),
    "members": _f("委员数", "Members", "persons"),
    "groups": _f("入站活动组", "Groups hosted"),
    "n_groups": _f("活动组数", "Groups (count)", "count"),
    "over_capacity": _f("超出容量", "Over capacity", enum="bool"),
    "reason": _f("调整原因", "Reason", enum="move_reason"),
    "groups_needed": _f("还需活动组数", "Groups needed", "count"),
    "tier": _f("层级", "Tier", enum="tier"),
    "previous": _f("原分配", "Previous"),
    "new": _f("新分配", "New"),
    "status": _f("求解结果", "Outcome", enum="outcome"),
    "job_status": _f("任务状态", "Job status", enum="job_status"),
    "objective": _f("目标值", "Objective", decimals=1),
    "bound": _f("下界", "Bound", decimals=1),
    "gap": _f("间隙", "Gap", decimals=4),
    "time_s": _f("求解用时", "Solve time", "s"),
    # tier 2 zones and long distances: stored in metres, shown in km
    "distance_m": _f("直线距离", "Straight-line distance", "km"),
    "zone_villages": _f("责任区村社区数", "Zone villages", "count"),
    "zone_population": _f("责任区人口", "Zone population", "persons"),
    "zone_constituents": _f("责任区群众数", "Zone constituents", "persons"),
    "zone_mean_m": _f("责任区到驻地平均距离", "Zone mean distance to base", "km"),
    "zone_max_m": _f("责任区到驻地最远距离", "Zone largest distance to base", "km"),
    "line_max_m": _f("最远直线距离", "Largest straight-line distance", "km"),
    "line_mean_m": _f("平均直线距离", "Mean straight-line distance", "km"),
    "solver": _f("求解器", "Solver", enum="solver"),
    "diagnostics": _f("诊断", "Diagnostics", enum="diagnostics"),
    "moved": _f("调整数", "Moved", "count"),
    "unit": _f("成本单位", "Cost unit", enum="cost_unit"),
    # costs: stored in metres (straight-line) or seconds (road); shown in km / minutes
    "total_m": _f("总距离", "Total distance", "km"),
    "mean_m": _f("平均距离", "Mean distance", "km"),
    "max_m": _f("最远距离", "Max distance", "km"),
    "cost_m": _f("距离", "Distance", "km"),
    "total_s": _f("总路程用时", "Total travel time", "min"),
    "mean_s": _f("平均路程用时", "Mean travel time", "min"),
    "max_s": _f("最长路程用时", "Max travel time", "min"),
    "cost_s": _f("路程用时", "Travel time", "min"),
    # duty roster: 一月一轮值, 委员接待日, 一季一协商
    "platform": _f("值班平台", "Platform"),
    "month": _f("月份", "Month"),
    "date": _f("日期", "Date"),
    "reception_date": _f("接待日", "Reception day"),
    "weekday": _f("接待星期", "Weekday"),
    "duty": _f("值班", "Duty"),
    "duty_months": _f("值班月数", "Duty months", "count"),
    "duties": _f("值班安排", "Duties"),
    "duty_distance_m": _f("值班路程", "Duty travel", "km"),
    "quarter": _f("季度", "Quarter"),
    "consultation": _f("协商", "Consultation"),
    "member_names": _f("值班委员", "Members on duty"),
    "member_ids": _f("委员编号列表", "Member IDs"),
    # maps and coverage tables
    "nearest_station": _f("最近站点", "Nearest station"),
    "nearest_s": _f("道路时间", "Road time", "min"),
    "gap_rank": _f("缺口排名", "Gap rank"),
    "threshold": _f("范围", "Within"),
    "share": _f("占比", "Share"),
    "total_population": _f("总人口", "Total population", "persons"),
    "covered_villages": _f("已覆盖村社区数", "Covered villages", "count"),
    "county_name": _f("区县", "County"),
    "stations": _f("站点数", "Stations", "count"),
    "coverage_change": _f("覆盖变化", "Coverage change", enum="coverage_change"),
    "newly_covered_population": _f("新增覆盖人口", "Population newly covered", "persons"),
    "proposed_count": _f("建议新增点数", "Proposed points", "count"),
    "covered_before": _f("新增前覆盖人口", "Covered before", "persons"),
    "covered_after": _f("新增后覆盖人口", "Covered after", "persons"),
    "share_before": _f("新增前占比", "Share before"),
    "share_after": _f("新增后占比", "Share after"),
    "villages_uncovered_before": _f("新增前未覆盖村社区数", "Villages uncovered before", "count"),
    "villages_uncovered_after": _f("新增后未覆盖村社区数", "Villages uncovered after", "count"),
    # 码上议事: people's messages and their follow-up
    "ticket": _f("查询码", "Ticket"), "text": _f("留言内容", "Message"),
    "message_status": _f("办理状态", "Status", enum="message_status"), "answer": _f("答复", "Answer"),
    "created_at": _f("留言时间", "Received at"), "assigned_at": _f("分派时间", "Assigned at"),
    "answered_at": _f("答复时间", "Answered at"), "closed_at": _f("办结时间", "Closed at"),
    "hours_to_answer": _f("答复用时(小时)", "Hours to answer", decimals=1),
    "escalation": _f("督办层级", "Escalation", enum="escalation"), "overdue": _f("超期", "Overdue"),
    "open_messages": _f("待办件数", "Open messages", "count"), "messages": _f("留言件数", "Messages", "count"),
    "answered": _f("已答复件数", "Answered", "count"), "routing_basis": _f("分派依据", "Routed by", enum="routing_basis"),
    # liaison ledger (联系台账), coverage that happened, yearly review (一年一考评)
    "activity_id": _f("台账编号", "Activity ID"),
    "revision": _f("修订版本", "Revision"),
    "activity_kind": _f("活动类型", "Activity kind", enum="activity_kind"),
    "activity_way": _f("联系方式", "Way", enum="activity_way"),
    "activity_status": _f("办理情况", "Status", enum="activity_status"),
    "activity_outcome": _f("成果", "Outcome"),
    "topic": _f("主题", "Topic"),
    "follow_up": _f("后续跟进", "Follow-up"),
    "satisfaction": _f("满意度(1-5)", "Satisfaction (1-5)"),
    "people": _f("人次", "People reached", "persons"),
    "visitors": _f("接待人数", "Visitors", "persons"),
    "attendees": _f("参加人数", "Attendees", "persons"),
    "swapped_with": _f("换班委员编号", "Swapped with"),
    "recorded_by": _f("录入人", "Recorded by"),
    "recorded_at": _f("录入时间", "Recorded at"),
    "deleted": _f("已删除", "Deleted", enum="bool"),
    "last_contact": _f("最近联系日期", "Last contact"),
    "days_since_contact": _f("距最近联系天数", "Days since last contact"),
    "contacts": _f("联系次数", "Contacts", "count"),
    "reached": _f("已联系", "Reached", enum="bool"),
    "planned_links": _f("计划联系数", "Planned links", "count"),
    "reached_links": _f("已落实联系数", "Links with a contact", "count"),
    "unreached_links": _f("未落实联系数", "Links without a contact", "count"),
    "reached_share": _f("落实率", "Share reached", decimals=3),
    "ledger_entity": _f("对象", "What", enum="ledger_entity"),
    "total": _f("总数", "Total", "count"),
    "not_reached": _f("未联系数", "Not reached", "count"),
    "quota": _f("指标", "Quota", enum="quota"),
    "quota_target": _f("目标", "Target"),
    "quota_done": _f("完成", "Done"),
    "quota_met": _f("达标", "Met", enum="bool"),
    "score": _f("得分", "Score", decimals=1),
    "rank": _f("排名", "Rank"),
    "points": _f("分值", "Points", decimals=1),
    "rule": _f("计分规则", "Rule", enum="review_rule"),
    "activity_count": _f("条数", "Rows", "count"),
    "activity_ids": _f("台账编号列表", "Activity IDs"),
    "talk": _f("需约谈", "Talk needed", enum="bool"),
    "mean_satisfaction": _f("平均满意度", "Mean satisfaction", decimals=2),
    "cap": _f("封顶分", "Cap", decimals=1),
    # where a location comes from (villages, townships, people) and the 待补坐标 workbook
    "location_source": _f("位置来源", "Location source", enum="location_source"),
    "boundary_source": _f("边界来源", "Boundary source", enum="boundary_source"),
    "covered_given_villages": _f("已覆盖村社区数（有坐标）", "Covered villages (with coordinates)", "count"),
    "new_lon": _f("补填经度", "New longitude"),
    "new_lat": _f("补填纬度", "New latitude"),
    "datum": _f("坐标系", "Datum"),
}

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

#: Words of the notes sheet and page headers.
WORDS: dict[str, tuple[str, str]] = {
    "dataset": ("数据集", "Dataset"), "version": ("版本", "Version"), "date": ("日期", "Date"),
    "parameters": ("参数", "Parameters"), "outcome": ("求解结果", "Outcome"), "item": ("项目", "Item"),
    "value": ("内容", "Value"), "counts": ("要素数量", "Counts"), "page": ("第 &P 页，共 &N 页", "Page &P of &N"),
    "this_month_duty": ("本月值班", "This month's duty"), "cost": ("总路程", "Total travel"),
    "roster_status": ("排班结果", "Roster outcome"),
    # maps: layer names, legend titles and notes (popup fields use FIELDS)
    "map_stations": ("站点", "Stations"), "map_existing_stations": ("现有站点", "Existing stations"),
    "map_villages": ("村社区（按最近站点距离着色）", "Villages (coloured by distance to nearest station)"),
    "map_villages_road": ("村社区（按到最近站点的道路时间着色）", "Villages (coloured by road time to nearest station)"),
    "map_townships": ("乡镇街道边界", "Township boundaries"), "map_county": ("区县边界", "County boundary"),
    "map_gaps": ("覆盖缺口（按人口排序）", "Coverage gaps (ranked by population)"),
    "map_gaps_short": ("覆盖缺口", "Coverage gaps"), "map_area": ("服务范围", "Service area"),
    "map_within": ("以内", "within"), "map_beyond": ("以上", "beyond"),
    "map_legend_stations": ("站点类型", "Station kinds"), "map_legend_villages": ("村社区到最近站点", "Village to nearest station"),
    "map_gap_list": ("缺口村（人口最多的前 {n} 个）", "Gap villages (top {n} by population)"),
    "map_no_station": ("无站点", "no station"), "map_straight": ("直线", "straight line"), "map_road": ("道路", "road"),
    "map_no_gaps": ("没有超过 {t} 的缺口村", "No village lies beyond {t}"),
    "map_legend": ("图例", "Legend"), "map_dot_size": ("圆点大小表示人口", "dot size: population"),
    "map_proposed": ("建议新增联系点", "Proposed contact points"), "map_before": ("现有覆盖范围", "Coverage now"),
    "map_after": ("新增后覆盖范围", "Coverage with proposals"),
    "map_villages_change": ("村社区（新增前后）", "Villages (before/after)"), "map_gap_title": ("补点方案", "Gap closing"),
    "map_before_h": ("新增前", "Before"), "map_after_h": ("新增后", "After"), "map_site": ("建议点", "Proposed site"),
    "map_sites_unit": ("个", "sites"),
    # where a village's point comes from (location_line), and maps that draw approximate villages and
    # speak of villages, not people, when the list has no population
    "loc_total": ("{n} 个村社区", "{n} villages"), "loc_given": ("{n} 个有坐标", "{n} with coordinates"),
    "loc_placed": ("{n} 个由工作人员标注", "{n} placed by staff"),
    "loc_township_seat": ("{n} 个按乡镇驻地近似", "{n} approximated at the township seat"),
    "loc_township_centre": ("{n} 个按乡镇中心近似", "{n} approximated at the township centre"),
    "loc_unknown": ("{n} 个未定位", "{n} not located"),
    "map_approx": ("近似位置的村社区（空心圈，按乡镇驻地归并，数字为村数）",
                   "Approximate villages (hollow, grouped at the township seat; number = villages)"),
    "map_approx_short": ("近似位置（空心圈，数字为村数）", "Approximate location (hollow; number = villages)"),
    "map_approx_group": ("{n} 个村社区按{where}近似", "{n} villages approximated at the {where}"),
    "map_seat_word": ("乡镇驻地", "township seat"), "map_centre_word": ("乡镇中心", "township centre"),
    "map_unlocated": ("未定位", "Not located"),
    "map_unlocated_list": ("未定位的村社区（{n} 个，未画在图上）", "Villages not located ({n}, not drawn)"),
    "map_approx_note": ("≈ 距离按近似位置计算", "≈ distance from an approximate location"),
    "map_gaps_villages": ("覆盖缺口（按距离排序）", "Coverage gaps (ranked by distance)"),
    "map_gap_list_villages": ("缺口村（距离最远的前 {n} 个）", "Gap villages (the {n} farthest)"),
    "map_covered_villages": ("覆盖村数", "Villages covered"), "map_total_villages": ("村数", "Villages"),
    "map_location": ("位置", "Location"), "map_villages_word": ("村社区", "Villages"),
    "map_gain_villages": ("新增覆盖村数", "Villages newly covered"),
    "loc_word_unknown": ("未定位", "not located"), "loc_word_township_seat": ("按乡镇驻地近似", "at the township seat"),
    "loc_word_township_centre": ("按乡镇中心近似", "at the township centre"),
    "page_kind_optimisation": ("优化", "optimisation"), "page_kind_roster": ("排班", "roster"),
    "page_kind_batch": ("批量", "batch"), "page_kind_gaps": ("补点", "gap closing"),
    "map_boundary_word": ("边界", "Boundary"),
    "map_boundary_derived": ("推算边界，由村点推得，非官方", "derived from village points, not official"),
    "map_zones_nearest": ("现状责任区：每个村归最近的活动组驻地（尚未运行优化）",
                          "Zones now: each village to the nearest group base (no run yet)"),
    # CLI
    "cli_what": ("项目", "what"), "cli_count": ("数量", "count"), "cli_dataset": ("数据集 {name}", "dataset {name}"),
    "cli_conveners": ("召集人", "conveners"), "cli_station_kind": ("  站点：{kind}", "  stations: {kind}"),
    "cli_coverage_title": ("{name}：{mode}覆盖（{unit}），{basis}", "{name}: coverage by {mode} ({unit}), {basis}"),
    "cli_basis_population": ("按人口计", "population-weighted"), "cli_basis_villages": ("按村社区个数计", "share of villages"),
    # 码上议事: posters and the phone page
    "qr_title": ("码上议事", "Scan to reach a member"), "qr_scan": ("扫码找委员 · 留言反映诉求", "Scan to leave a message"),
    "qr_duty": ("本月值班委员", "On duty this month"), "qr_reception": ("接待日", "Reception days"),
    "qr_no_duty": ("本月值班安排待定", "This month's duty not yet set"), "qr_no_reception": ("接待日待定", "No reception day set"),
    "qr_map": ("位置示意", "Where"), "qr_village": ("所在村社区", "Village"), "qr_township": ("乡镇街道", "Township"),
    "qr_responsible": ("联系委员", "Members to contact"), "qr_groups": ("界别活动组", "Sector groups"),
    "qr_leave": ("我要留言", "Leave a message"), "qr_topic": ("事项", "Topic"), "qr_sector": ("界别（可不填）", "Sector (optional)"),
    "qr_text": ("留言内容", "Message"), "qr_phone": ("联系电话（可不填，仅承办委员和工作人员可见）",
                                                  "Phone (optional, seen only by the member and staff)"),
    "qr_locate": ("使用我的位置", "Use my location"), "qr_send": ("提交", "Send"),
    "qr_ticket": ("您的查询码", "Your ticket"), "qr_follow": ("查询办理进度", "Follow your message"),
    "qr_status": ("办理状态", "Status"), "qr_answer": ("答复", "Answer"), "qr_loading": ("正在加载…", "Loading…"),
    "qr_error": ("出错了，请稍后再试", "Something went wrong, please try again"),
    "qr_nearest": ("附近站点", "Nearby stations"), "qr_next": ("下次接待", "Next reception"),
    "qr_text_needed": ("请填写留言内容", "Please write your message"), "qr_km": ("公里", "km"),
    # liaison ledger and yearly review
    "ledger_period": ("统计期间", "Period"), "review_year": ("考评年度", "Review year"),
    "review_rules_note": ("计分规则", "Scoring rules"), "review_talk_below": ("低于此分约谈", "Talk below score"),
    "review_cap": ("封顶", "cap"), "review_each": ("每条", "each"),
    "map_ledger_title": ("联系落实情况", "Contacts that happened"),
    "map_ledger_zones": ("计划责任区（委员-群众所在村社区）", "Planned zones (villages of assigned constituents)"),
    "map_ledger_villages": ("村社区（按距最近联系天数着色）", "Villages (coloured by days since last contact)"),
    "map_ledger_never": ("期间内未联系", "not reached in the period"),
    "map_ledger_days": ("{a}-{b} 天", "{a}-{b} days"), "map_ledger_over": ("{a} 天以上", "over {a} days"),
    "ledger_page_title": ("录入联系台账", "Record an activity"), "ledger_saved": ("已保存第 {id} 条", "Saved record {id}"),
    "ledger_mine": ("我的台账", "My activities"), "ledger_my_constituents": ("我联系的群众", "My constituents"),
    "ledger_submit": ("保存", "Save"), "ledger_login_first": ("请先登录", "Please log in first"),
    # OGC API (Features, Tiles, Processes): collection titles, CRS names, page words
    "ogc_counties": ("区县", "Counties"), "ogc_townships": ("乡镇街道", "Townships"),
    "ogc_villages": ("村社区", "Villages"), "ogc_stations": ("站点", "Stations"),
    "ogc_members": ("委员", "Members"), "ogc_groups": ("界别活动组", "Sector groups"),
    "ogc_committees": ("专委会", "Special committees"), "ogc_constituents": ("界别群众", "Constituents"),
    "ogc_roads": ("道路", "Roads"),
    "ogc_coverage": ("村社区覆盖（到最近站点的距离）", "Coverage per village (distance to the nearest station)"),
    "ogc_zones": ("最近一次优化的活动组责任区", "Group zones of the latest run"),
    "ogc_contact_points": ("最近一次优化的界别联系点", "Contact points of the latest run"),
    "ogc_proposals": ("最近一次补点的建议新增联系点", "Proposed contact points of the latest gap closing"),
    "ogc_duty": ("本月值班", "This month's duty"),
    "ogc_crs84": ("WGS 84 经纬度（CRS84）", "WGS 84 lon/lat (CRS84)"),
    "ogc_cgcs2000": ("CGCS2000 国家大地坐标系（EPSG:4490）", "CGCS2000 (EPSG:4490)"),
    "ogc_gauss_kruger": ("CGCS2000 高斯-克吕格 3 度带（EPSG:{epsg}，米）", "CGCS2000 3-degree Gauss-Kruger (EPSG:{epsg}, metres)"),
    "ogc_gcj02": ("GCJ-02 火星坐标（高德、腾讯底图用，非国家标准）", "GCJ-02 (Gaode/Tencent basemaps; not a national standard)"),
    "ogc_landing": ("数据集 {name}", "Dataset {name}"), "ogc_collections": ("图层", "Collections"),
    "ogc_items": ("要素", "Features"), "ogc_matched": ("共 {matched} 个，本页 {returned} 个", "{matched} in all, {returned} on this page"),
    "ogc_next": ("下一页", "Next page"), "ogc_prev": ("上一页", "Previous page"), "ogc_json": ("GeoJSON 格式", "as GeoJSON"),
    "ogc_processes": ("计算任务", "Processes"), "ogc_optimisation": ("责任区优化", "Assignment optimisation"),
    "ogc_roster": ("值班排班", "Duty roster"), "ogc_close_gaps": ("补点（建议新增联系点）", "Close gaps (propose contact points)"),
    "ogc_batch": ("多县批量计算", "Batch over many counties"),
}

# notes (说明) items about where locations come from
WORDS.update({"locations": ("村社区位置", "Village locations"), "import_report": ("导入报告", "Import report"),
              "township_boundaries": ("乡镇边界", "Township boundaries"), "unlocated": ("未定位村社区", "Villages not located"),
              "coordinates_datum": ("坐标系", "Coordinates")})

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
FIELDS.update({
    "relaxations": _f("放宽的规则", "Relaxed rules", enum="diagnostics"),
    "uncovered_villages": _f("未覆盖村社区数", "Uncovered villages", "count"),
    "responsibility_kind": _f("责任类型", "Responsibility", enum="responsibility_kind"),
    "convener_name": _f("召集人", "Convener"),
    # proposals and close-gaps tables, and their village-count twins where population is unknown
    "note": _f("说明", "Note"),
    "village": _f("所在村社区编号", "Village ID"),
    "population_gained": _f("本点新增覆盖人口", "Population newly covered here", "persons"),
    "villages_served": _f("服务村社区数", "Villages served", "count"),
    "total_villages": _f("村社区总数", "Villages", "count"),
    "covered_villages_before": _f("新增前覆盖村社区数", "Villages covered before", "count"),
    "covered_villages_after": _f("新增后覆盖村社区数", "Villages covered after", "count"),
    "deputy_conveners": _f("副召集人数", "Deputy conveners", "count"),
})
WORDS.update({"cli_deputy_conveners": ("副召集人", "deputy conveners"),
              "cli_population_unknown": ("未知（覆盖按村社区个数计）", "unknown (coverage counts villages)")})
ENUMS.update({"responsibility_kind": {"group": ("界别活动组", "group"), "committee": ("专委会", "committee")}})
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


class _Keep(dict):
    def __missing__(self, key: str) -> str:  # a template field without a value stays visible, never KeyError
        return "{" + key + "}"


def message(code: str, lang: str = "zh", **params: Any) -> str:
    """The text of message ``code`` in ``lang`` with ``params`` filled in (``gap_no_candidate`` ->
    ``范围（10.0 公里）内没有候选点：...``). Unknown codes come back as the code itself."""
    i = _check_lang(lang)
    tpl = MESSAGES.get(code)
    if tpl is None:
        return code
    if params.get("cost_unit") in ("m", "s"):  # costs travel as numbers; shown in km / minutes of ``lang``
        params = {k: cost_text(v, params["cost_unit"], lang) if k in COST_PARAMS else v for k, v in params.items()}
    for k, enum in PARAM_ENUMS.items():  # English words in params (tier names, outcomes) shown in ``lang``
        if isinstance(params.get(k), str):
            params[k] = value_label(enum, params[k], lang)
    try:
        return tpl[i].format_map(_Keep(params))
    except (ValueError, TypeError):  # a param of the wrong type for its format spec
        return tpl[i].replace("{", "").replace("}", "")


#: Message params whose value is a vocabulary word: param -> enum.
PARAM_ENUMS = {"what": "entity", "who": "entity", "tier": "tier", "outcome": "outcome"}

#: Message params that are costs (metres or seconds, per the message's ``cost_unit``).
COST_PARAMS = ("threshold", "nearest", "distance", "cost")


def cost_text(value: Any, cost_unit: str, lang: str = "zh") -> str:
    """A cost in words: metres as ``12.3 公里`` / ``12.3 km``, seconds as ``15 分钟`` / ``15 min``."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(x):
        return "不可达" if _check_lang(lang) == 0 else "unreachable"
    u = UNITS["km" if cost_unit == "m" else "min"]
    return f"{x * u.scale:.1f} {(u.zh, u.en)[_check_lang(lang)]}" if cost_unit == "m" else \
        f"{x * u.scale:.0f} {(u.zh, u.en)[_check_lang(lang)]}"


def map_words(lang: str = "zh") -> dict[str, str]:
    """Every word the maps show, by short key, in ``lang``: popup fields from :data:`FIELDS`,
    layer names and legend titles from :data:`WORDS` (``map_`` keys without the prefix)."""
    _check_lang(lang)
    out = {k[4:]: word(k, lang) for k in WORDS if k.startswith("map_")}
    out.update({"name": label("name", lang), "kind": label("kind", lang), "sectors": label("sectors", lang),
                "capacity": label("capacity", lang), "township": label("township_name", lang),
                "population": label("population", lang), "nearest": label("nearest_station", lang),
                "distance": label("distance_m", lang), "time": label("nearest_s", lang), "rank": label("gap_rank", lang),
                "seat": label("is_seat", lang), "threshold": label("threshold", lang),
                "covered": label("covered_population", lang), "summary": label("covered_population", lang),
                "pop": label("covered_population", lang), "share": label("share", lang),
                "total_pop": label("total_population", lang), "n_villages": label("n_villages", lang),
                "yes": value_label("bool", "True", lang), "status": label("coverage_change", lang),
                "covered_now": value_label("coverage_change", "b", lang),
                "newly": value_label("coverage_change", "a", lang), "still": value_label("coverage_change", "u", lang),
                "gain": label("newly_covered_population", lang), "n": label("proposed_count", lang),
                "solver": label("status", lang), "unit": word("map_sites_unit", lang),
                "persons": UNITS["persons"].zh if lang == "zh" else UNITS["persons"].en})
    return out


def _check_lang(lang: str) -> int:
    if lang not in LANGS:
        raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}")
    return 0 if lang == "zh" else 1


def label(field: str, lang: str = "zh") -> str:
    """The name of ``field`` in ``lang`` (no unit); unknown fields keep their own name."""
    i = _check_lang(lang)
    f = FIELDS.get(field)
    if f is None:
        return field
    return (f.zh, f.en)[i]


def unit_label(field: str, lang: str = "zh") -> str | None:
    """The display unit of ``field`` in ``lang`` (``公里``, ``人``), or None."""
    i = _check_lang(lang)
    f = FIELDS.get(field)
    if f is None or f.unit is None:
        return None
    u = UNITS[f.unit]
    return (u.zh, u.en)[i]


def header(field: str, lang: str = "zh") -> str:
    """Column header for ``field``: its name with the display unit, ``人口(人)`` / ``Population (persons)``.

    Counts (unit ``count``) show no unit. Unknown fields keep their own name.
    """
    name = label(field, lang)
    f = FIELDS.get(field)
    if f is None or f.unit in (None, "count"):
        return name
    u = unit_label(field, lang)
    return f"{name}({u})" if lang == "zh" else f"{name} ({u})"


def value_label(enum: str, value: Any, lang: str = "zh") -> Any:
    """The word for ``value`` of vocabulary ``enum`` in ``lang``; values outside it come back as they are."""
    i = _check_lang(lang)
    vocab = ENUMS.get(enum)
    if vocab is None:
        raise ValueError(f"unknown enum {enum!r}; expected one of {', '.join(ENUMS)}")
    if value is None or isinstance(value, float) and math.isnan(value):
        return value
    key = str(value)
    return vocab[key][i] if key in vocab else value


def table_title(table: str, lang: str = "zh") -> str:
    """Title of result table ``table`` (sheet name) in ``lang``; unknown tables keep their key."""
    i = _check_lang(lang)
    return TABLES[table][i] if table in TABLES else table


def word(key: str, lang: str = "zh") -> str:
    """A word of the notes sheet or page header (``dataset`` -> 数据集)."""
    return WORDS[key][_check_lang(lang)]


def diagnostic_text(d: Mapping[str, Any], lang: str = "zh") -> str:
    """One solver diagnostic in ``lang``: its ``code`` template filled from its ``params`` where it
    has one (:data:`MESSAGES`); else the English message, or in zh its quota's Chinese name with
    the scope and the shortfall (``容量不足（经济）：缺 3``). A relaxed rule (``rule`` and
    ``reason``) is worded by :func:`relaxation_text`."""
    if "rule" in d and "reason" in d:
        return relaxation_text(d, lang)
    if d.get("code") in MESSAGES:
        return message(str(d["code"]), lang, **dict(d.get("params") or {}))
    if _check_lang(lang) == 1:
        return str(d.get("message", ""))
    if d.get("message_zh"):  # a diagnostic that words itself in Chinese (tier 1/2 distances, coverage)
        return str(d["message_zh"])
    out = str(value_label("diagnostic", d.get("quota", ""), "zh"))
    scope = d.get("scope")
    if scope:
        out += f"（{value_label('tier', scope, 'zh')}）"
    if d.get("short_by"):
        out += f"：缺 {d['short_by']}"
    msg = str(d.get("message", ""))
    if d.get("quota") == "nothing_to_do" and ": " in msg:  # the pipeline writes this one's reason in Chinese
        out += "：" + msg.split(": ", 1)[1]
    return out


def diagnostics_text(ds: Any, lang: str = "zh") -> Any:
    """A list of diagnostics as one cell (``；``-separated in zh, `` | `` in en); other values unchanged."""
    if not isinstance(ds, (list, tuple)):
        return ds
    return ("；" if lang == "zh" else " | ").join(diagnostic_text(d, lang) if isinstance(d, Mapping) else str(d)
                                                for d in ds)


#: The job runner's fixed messages (stored in English, machine-readable) -> their message code.
JOB_MESSAGES = {"waiting for a worker": "job_waiting", "waiting for a Dask worker": "job_waiting", "running": "job_running",
                "dismissed on request": "job_dismissed", "the service stopped before the job started": "job_stopped"}


#: a failed job's ``error.title`` -> the message that words it (``error.params`` fill it in)
JOB_FAILURES = {"SolverError": "job_failed_solver_error", "TimeLimitExceeded": "job_failed_time_limit",
                "WorkerDied": "job_failed_worker_died", "Interrupted": "job_failed_interrupted",
                "MissingLayer": "job_failed_missing_layer"}


def job_failure_text(error: Any, lang: str = "zh") -> str | None:
    """A failed job's error in words of ``lang`` when the service words it itself, else None."""
    if not isinstance(error, Mapping) or error.get("title") not in JOB_FAILURES:
        return None
    params = error.get("params") if isinstance(error.get("params"), Mapping) else {}
    return message(JOB_FAILURES[error["title"]], lang, **dict(params))


def job_status_text(status: Any, lang: str = "zh") -> Any:
    """A job status in words (``successful`` -> 已完成)."""
    return value_label("job_status", status, lang)


def job_message_text(msg: Any, status: Any = None, outcome: Mapping[str, Any] | None = None,
                     lang: str = "zh") -> Any:
    """A job's stored message in ``lang``: the runner's fixed lines by code; a finished run as its
    outcome in words with the first diagnosis (``已完成：不可行（无可行解）：...``); other text (a
    failure's detail) as it is."""
    _check_lang(lang)
    if isinstance(msg, str) and msg in JOB_MESSAGES:
        return message(JOB_MESSAGES[msg], lang)
    if status == "successful" and isinstance(outcome, Mapping) and outcome.get("outcome"):
        code = outcome.get("diagnosis_code")
        relaxed = [x for x in outcome.get("relaxations") or [] if isinstance(x, Mapping)]
        if relaxed:  # a relaxed rule first: the answer is optimal only under it
            diag = relaxation_text(relaxed[0], lang)
        elif code in MESSAGES:
            diag = message(str(code), lang, **dict(outcome.get("diagnosis_params") or {}))
        else:
            diag = outcome.get("diagnosis") if lang == "en" else None
        sep = "：" if lang == "zh" else ": "
        text = outcome.get("text") if lang == "zh" else (outcome.get("text_en")
                                                          or value_label("outcome", outcome["outcome"], "en"))
        return message("job_finished_text", lang, outcome=value_label("outcome", outcome["outcome"], lang),
                       text=text or "", diagnosis=(sep + str(diag)) if diag else "")
    if status == "successful" and isinstance(msg, str) and msg.startswith("finished"):
        st = msg.split(":", 1)[1].strip().split(" ")[0] if ":" in msg else ""
        return message("job_finished", lang, outcome=value_label("outcome", st, lang)) if st else \
            value_label("job_status", "successful", lang)
    return msg


def result_labels(result: Mapping[str, Any], lang: str = "zh") -> dict[str, Any]:
    """Words for a stored run (``OptimisationResult.to_dict()``) in ``lang``, beside its machine keys:
    the outcome, each tier's name and outcome with its diagnostics, and the run's own diagnostics."""
    _check_lang(lang)
    oc = result.get("outcome") if isinstance(result.get("outcome"), Mapping) else {}
    tiers = result.get("tiers") if isinstance(result.get("tiers"), Mapping) else {}
    out: dict[str, Any] = {
        "status": value_label("outcome", result.get("status"), lang),
        "outcome": job_message_text(None, "successful", oc, lang) if oc else None,
        "tiers": {k: {"name": value_label("tier", k, lang), "status": value_label("outcome", t.get("status"), lang),
                      "relaxations": [relaxation_text(x, lang, k) for x in t.get("relaxations") or []
                                      if isinstance(x, Mapping)],
                      "diagnostics": [diagnostic_text(d, lang) for d in t.get("diagnostics") or []
                                      if isinstance(d, Mapping)]}
                  for k, t in tiers.items() if isinstance(t, Mapping)},
        "diagnostics": [diagnostic_text(d, lang) for d in result.get("diagnostics") or [] if isinstance(d, Mapping)],
        "fields": {k: label(k, lang) for k in ("status", "objective", "bound", "gap", "time_s", "diagnostics")},
    }
    return out


def param_items(params: Mapping[str, Any], lang: str = "zh") -> dict[str, Any]:
    """Optimisation parameters as the 说明 sheet shows them: glossary names, values in ``lang``."""
    i = _check_lang(lang)
    out: dict[str, Any] = {}
    for k, v in params.items():
        if v is None or v == [] or v == {}:
            continue
        zh, en, enum = PARAMS.get(k, (k, k, None))
        if k == "locks" and isinstance(v, Mapping):
            v = sum(len(x) for x in v.values() if isinstance(x, Mapping))
            if not v:
                continue
        elif enum is not None and isinstance(v, (list, tuple)):
            v = "、".join(str(value_label(enum, x, lang)) for x in v)
        elif enum is not None:
            v = value_label(enum, v, lang)
        elif isinstance(v, (list, tuple)):
            v = "、".join(map(str, v))
        out[(zh, en)[i]] = v
    return out


def relaxation_text(r: Mapping[str, Any], lang: str = "zh", tier: str | None = None) -> str:
    """One relaxed rule (``solvers.relaxations``) as one line in ``lang``: the rule by its glossary
    name, the scope, what was asked, what was given and why (``已放宽：乡镇街道（专委会）每个专委会乡镇数要求 2，实际 1：...``)."""
    i = _check_lang(lang)
    p = dict(r.get("params") or {})
    p["asked"] = r.get("asked")
    reason = message(f"relax_{r.get('reason')}", lang, **p)
    rule = str(r.get("rule", ""))
    name = PARAMS[rule][i] if rule in PARAMS else rule
    name = name if i == 0 else name[:1].lower() + name[1:]
    scope = str(r.get("scope", ""))
    scope = str(value_label("entity", scope, lang)) if scope in ENUMS["entity"] else scope
    return message("relaxation_line", lang, tier=tier or r.get("tier") or "", scope=scope, rule=name,
                   asked=r.get("asked"), given=r.get("given"), reason=reason)


def display_value(field: str, value: Any) -> Any:
    """``value`` of ``field`` converted to its display unit and rounded (m -> km 1 decimal, persons integer)."""
    f = FIELDS.get(field)
    if f is None or value is None or isinstance(value, bool):
        return value
    if not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        return value
    try:
        x = float(value)
    except (TypeError, ValueError):
        return value
    if not math.isfinite(x):
        return None
    scale, dec = 1.0, f.decimals
    if f.unit is not None:
        u = UNITS[f.unit]
        scale, dec = u.scale, u.decimals if u.decimals is not None else f.decimals
    if dec is None:
        return value if scale == 1.0 else x * scale
    x = round(x * scale, dec)
    return int(x) if dec == 0 else x


def decimals(field: str) -> int | None:
    """Decimals ``field`` is shown with (0: integer), None when shown as stored."""
    f = FIELDS.get(field)
    if f is None:
        return None
    if f.unit is not None and UNITS[f.unit].decimals is not None:
        return UNITS[f.unit].decimals
    return f.decimals


def zh_aliases(field: str) -> tuple[str, ...]:
    """Chinese spellings of ``field`` the importers accept: its name, name with unit, older names."""
    if field not in FIELDS:
        return EXTRA_ALIASES.get(field, ())
    out = [label(field, "zh"), header(field, "zh"), header(field, "zh").replace("(", "（").replace(")", "）")]
    return tuple(dict.fromkeys(out + list(EXTRA_ALIASES.get(field, ()))))


__all__ = ["ENUMS", "EXTRA_ALIASES", "FIELDS", "JOB_MESSAGES", "LANGS", "MESSAGES", "PARAMS", "TABLES", "UNITS", "WORDS", "Field", "Unit", "decimals",
           "diagnostic_text", "diagnostics_text", "relaxation_text", "display_value", "param_items", "header", "job_message_text", "job_status_text", "label", "result_labels", "cost_text", "map_words", "message", "table_title", "unit_label", "value_label", "word", "zh_aliases"]
__all__ = ["ENUMS", "EXTRA_ALIASES", "FIELDS", "JOB_FAILURES", "JOB_MESSAGES", "job_failure_text", "LANGS", "MESSAGES", "PARAMS", "TABLES", "UNITS", "WORDS", "Field", "Unit", "decimals",
           "diagnostic_text", "diagnostics_text", "display_value", "param_items", "header", "job_message_text", "job_status_text", "label", "result_labels", "cost_text", "map_words", "message", "table_title", "unit_label", "value_label", "word", "zh_aliases"]
