"""The words of the supervisors' process pages, in Chinese and English: the actions on an
instance (cancel or move it, with a reason) and the live diagrams (heat, legend, time range, zoom,
state filters). A data module, part of ``web.words.WORDS``, split from it by page; keys are unique
across the two (``tests/web/test_translations.py``)."""

from __future__ import annotations

from engine.definition import Label

SUPERVISOR_WORDS: dict[str, Label] = {
    # supervisor interventions on an instance: cancel or move, with a reason
    "intervene": Label("主管操作", "Supervisor actions"),
    "intervene_cancel": Label("终止流程…", "Cancel the instance…"),
    "intervene_move": Label("移动到…", "Move to…"),
    "intervene_target": Label("目标状态", "Target state"),
    "intervene_reason": Label(
        "原因（必填，最多 500 字）", "Reason (required, at most 500 characters)"
    ),
    "intervene_cancel_title": Label("终止流程实例", "Cancel the instance"),
    "intervene_move_title": Label("移动流程实例", "Move the instance"),
    "intervene_cancel_what": Label(
        "流程实例 #{id} 将在“{state}”处终止，此后不能再办理任何事项。终止不可撤销。",
        "Instance #{id} will be ended in “{state}”; nothing can be done on it afterwards. "
        "Cancelling cannot be undone.",
    ),
    "intervene_move_what": Label(
        "流程实例 #{id} 将从“{state}”移动到“{target}”。",
        "Instance #{id} will move from “{state}” to “{target}”.",
    ),
    "intervene_closes": Label(
        "将被取消的待办任务与定时器", "Open tasks and timers that will be cancelled"
    ),
    "intervene_opens": Label("进入目标状态时将生成", "Entering the target creates"),
    "intervene_no_events": Label(
        "不会执行任何事件的条件、动作或通知；操作人和原因记入办理记录。",
        "No event's guards, actions or notices run; you and the reason go into the history.",
    ),
    "intervene_confirm_cancel": Label("确认终止", "Confirm: cancel"),
    "intervene_confirm_move": Label("确认移动", "Confirm: move"),
    "intervene_back": Label("返回，不做修改", "Back, change nothing"),
    "intervene_done_cancel": Label("流程实例已终止", "The instance was cancelled"),
    "intervene_done_move": Label("流程实例已移动", "The instance was moved"),
    "intervene_ended": Label(
        "流程实例已结束，不能终止或移动", "The instance has ended; it cannot be cancelled or moved"
    ),
    "intervene_audit": Label("主管操作记录", "Supervisor actions on this instance"),
    "intervene_reason_col": Label("原因", "Reason"),
    "intervene_task": Label(
        "任务“{task}”（{group}，期限 {due}）", "Task “{task}” ({group}, due {due})"
    ),
    "intervene_timer": Label("定时“{event}”（{due}）", "Timer “{event}” ({due})"),
    "intervene_nothing": Label("无", "Nothing"),
    "intervene_warnings": Label("请注意", "Before you move it"),
    "intervene_confirmed": Label("已确认知悉：", "Confirmed knowingly: "),
    "intervene_confirmed_other_usable_card": Label(
        "该居民另有可用社保卡", "the person has another usable card"
    ),
    # the live process diagrams: heat, legend, time range, zoom, state filters
    "heat": Label("着色依据", "Colour by"),
    "heat_count": Label("实例数", "Instances"),
    "heat_overdue": Label("逾期任务与定时器", "Overdue tasks and timers"),
    "heat_age": Label("停留时长（最久）", "Time in state (oldest)"),
    "heat_legend_count": Label("颜色表示该状态的实例数：", "Colour shows instances in the state:"),
    "heat_legend_overdue": Label(
        "颜色表示该状态逾期的待办任务与到期未触发的定时器数：",
        "Colour shows overdue open tasks and missed timers in the state:",
    ),
    "heat_legend_age": Label(
        "颜色表示该状态中停留最久的实例已停留的时间：",
        "Colour shows how long the oldest instance has sat in the state:",
    ),
    "heat_legend_incident": Label("有待处理的事件单（⚠）", "Open incidents (⚠)"),
    "flows_since": Label("流转计数范围", "Flows counted over"),
    "since_7d": Label("近7天", "Last 7 days"),
    "since_30d": Label("近30天", "Last 30 days"),
    "since_365d": Label("近一年", "Last year"),
    "since_all": Label("全部", "All time"),
    "zoom_in": Label("放大", "Zoom in"),
    "zoom_out": Label("缩小", "Zoom out"),
    "zoom_reset": Label("全图", "Whole diagram"),
    "zoom_hint": Label(
        "滚轮缩放，拖动平移，点击状态查看其实例",
        "Wheel to zoom, drag to pan, click a state to list its instances",
    ),
    "overdue_count": Label("逾期", "Overdue"),
    "oldest_days": Label("最久（天）", "Oldest (days)"),
    "older_than_days": Label("在该状态超过（天）", "In this state for more than (days)"),
    "state_entered": Label("进入该状态", "In this state since"),
    "time_in_state": Label("停留时长", "Time in state"),
    "cancelled_note": Label("图中未画出的实例", "Instances the diagram does not draw"),
    "state_filtered": Label("已筛选", "Filtered"),
    # the kinds of notice the definitions declare (``notices: - kind:``), on the instance page
    "notice_kind_card_ready": Label("制卡完成待领取", "Card ready to collect"),
    "notice_kind_collection_reminder": Label("领卡提醒", "Reminder to collect the card"),
    "notice_kind_card_taken_back": Label("逾期未领已收回", "Uncollected card taken back"),
    "notice_kind_card_sealed": Label("逾期未领已封存", "Uncollected card sealed"),
    "notice_kind_loss_reported": Label("临时挂失", "Loss reported"),
    "notice_kind_loss_report_lapsed": Label("临时挂失到期", "Loss report lapsed"),
    "notice_kind_deduction_failed": Label("扣款失败", "Deduction failed"),
    "notice_kind_year_lapsed": Label("未缴费断保", "Year lapsed unpaid"),
    "notice_kind_refund_approved": Label("退费已核定", "Refund approved"),
    "notice_kind_refund_rejected": Label("退费未核准", "Refund rejected"),
    "notice_kind_registration_rejected": Label("参保登记未通过", "Registration rejected"),
    "notice_kind_reduction_granted": Label("缴费减免已认定", "Reduction granted"),
    "notice_kind_reduction_refused": Label("缴费减免未认定", "Reduction refused"),
    # the incidents page: filters, the count, what an error means, and the bulk actions
    "incident_all_kinds": Label("全部类型", "All kinds"),
    "incident_all_processes": Label("全部流程", "All processes"),
    "incident_kind": Label("类型", "Kind"),
    "incident_filter": Label("筛选", "Filter"),
    "incidents_shown": Label(
        "显示最新的 {shown:,} 条，共 {total:,} 条",
        "Showing the newest {shown:,} of {total:,}",
    ),
    "incident_detail": Label("技术信息", "Technical detail"),
    "incidents_bulk": Label("批量处理", "All at once"),
    "incidents_bulk_note": Label(
        "对当前筛选条件下、本页打开时已有的全部 {total:,} 条待处理事件单（包括未显示的较早事件单）："
        "排除原因（如通知接收方已恢复）后一次性重试，或一次性关闭。",
        "Every one of the {total:,} open {total:incident|incidents} of this filter that existed "
        "when this page was opened (older ones not shown included): retry them at once after "
        "the cause is fixed (say the notice receiver is back), or resolve them at once.",
    ),
    "incidents_retry_all": Label("全部重试（{total:,} 条）", "Retry all ({total:,})"),
    "incidents_resolve_all": Label("全部关闭（{total:,} 条）", "Resolve all ({total:,})"),
    "incidents_resolve_all_confirm": Label(
        "我知道关闭后这些步骤不再执行（通知不再发送）",
        "I know the steps will not run again (the notices will not be sent)",
    ),
    "incidents_retried": Label(
        "已放回重试 {count} 条事件单（定时器 {timer} 条，通知 {notice} 条），调度器下一轮执行。",
        "{count} {count:incident|incidents} put back for a retry (timers: {timer}, "
        "notices: {notice}): the scheduler runs them at its next sweep.",
    ),
    "incidents_resolved": Label(
        "已关闭 {count} 条事件单（定时器 {timer} 条，通知 {notice} 条），不再执行。",
        "{count} {count:incident|incidents} resolved (timers: {timer}, notices: "
        "{notice}): they will not run.",
    ),
    "incidents_none_matched": Label(
        "没有符合条件的待处理事件单：可能已被他人处理。",
        "No open incident matches: someone may have dealt with them already.",
    ),
    "incidents_confirm_needed": Label(
        "请先勾选确认：关闭后这些步骤不再执行。",
        "Tick the confirmation first: resolved steps will not run again.",
    ),
}
