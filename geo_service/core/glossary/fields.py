"""Fields as users see them: one zh/en name, display unit and vocabulary per field name."""

from __future__ import annotations

from dataclasses import dataclass

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
FIELDS.update({
    # how the ends of a distance were located (result tables of a dataset with approximate locations)
    "distance_basis": _f("距离依据", "Distance basis", enum="distance_basis"),
})
