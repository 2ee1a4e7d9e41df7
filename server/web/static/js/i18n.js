// Text of the pages, Chinese first with English. t(key, vars) picks the chosen language
// (kept in localStorage) and fills {name} placeholders. A key missing in English falls back
// to Chinese, and a missing key shows itself, so a gap is visible, never blank.

const zh = {
  'app.title': '枫桥',
  'nav.cases': '案件', 'nav.register': '登记', 'nav.sync': '同步', 'nav.bundles': '交换包',
  'nav.dashboard': '总览', 'nav.due': '临期与逾期', 'nav.stations': '站点', 'nav.quarantine': '隔离',
  'nav.audit': '审计日志', 'nav.accounts': '账号', 'nav.signout': '退出',
  'nav.tokens': '接口令牌',
  'role.grid_worker': '网格员', 'role.township_staff': '乡镇工作人员', 'role.county_staff': '县级工作人员', 'role.unit_head': '单位负责人',
  'role.leader': '包案领导', 'role.judge': '法官', 'role.mediator': '调解员', 'role.station_admin': '站点管理员', 'role.county_admin': '县级管理员',
  'accounts.title': '账号', 'accounts.help': '这里的修改会同步到账号辖区内的各站点；注销后，该账号在各站点的登录会在下次同步时结束。',
  'accounts.id': '账号', 'accounts.name': '姓名', 'accounts.unit': '单位', 'accounts.region': '辖区代码', 'accounts.roles': '角色',
  'accounts.password': '初始密码', 'accounts.new': '新建账号', 'accounts.create': '创建账号', 'accounts.created': '已创建账号 {id}。',
  'accounts.none': '还没有您可管理的账号。', 'accounts.revoked': '已注销', 'accounts.active': '正常', 'accounts.conflict': '有冲突待处理',
  'accounts.reset': '重置密码', 'accounts.reset.prompt': '为 {id} 设置新密码（至少 8 位）：', 'accounts.reset.done': '已重置 {id} 的密码，其原有登录已失效。',
  'accounts.revoke': '注销', 'accounts.restore': '恢复',
  'tokens.title': '接口令牌', 'tokens.help': '供脚本调用接口使用（如夜间导出台账）。令牌只在创建时显示一次，本站只保存其哈希值。',
  'tokens.label': '用途', 'tokens.days': '有效天数（0 为不过期）', 'tokens.new': '新建令牌', 'tokens.create': '创建令牌',
  'tokens.created': '创建于', 'tokens.expires': '到期', 'tokens.never': '不过期', 'tokens.revoke': '吊销', 'tokens.none': '还没有令牌。',
  'tokens.shown_once': '请立即复制保存，此令牌不会再显示：',
  'lang.switch': 'English',
  'common.loading': '正在加载…', 'common.none': '无', 'common.save': '保存', 'common.cancel': '取消',
  'common.more': '下一页', 'common.error': '出错了', 'common.retry': '重试', 'common.yes': '是', 'common.no': '否',
  'common.all': '全部', 'common.search': '查询', 'common.never': '从未',
  'err.network': '无法连接本机服务，请确认程序在运行。', 'err.field': '{field}：{message}',
  'signin.title': '登录', 'signin.account': '账号', 'signin.password': '密码', 'signin.submit': '登录',
  'signin.offline': '无需网络：账号信息已保存在本站。',
  'setup.title': '首次使用：创建站点管理员', 'setup.name': '姓名', 'setup.submit': '创建并登录',
  'cases.title': '案件', 'cases.empty': '没有符合条件的案件。', 'cases.id': '编号', 'cases.number': '案件号',
  'cases.kind': '类别', 'cases.state': '状态', 'cases.region': '区划', 'cases.summary': '诉求', 'cases.deadline': '下一期限',
  'cases.filter.state': '状态', 'cases.filter.region': '区划代码前缀', 'cases.filter.due': '期限在几天内',
  'cases.filter.overdue': '只看逾期', 'cases.filter.kind': '类别', 'cases.ledger': '导出 Excel 台账（隐去身份信息）', 'cases.ledger.full': '导出含身份信息的台账（将记入审计）',
  'kind.petition': '信访事项', 'kind.dispute': '矛盾纠纷',
  'due.overdue': '已逾期 {days} 天', 'due.today': '今天到期', 'due.left': '剩 {days} 天', 'due.near': '临期',
  'case.title': '案件 {id}', 'case.fields': '基本信息', 'case.timeline': '办理记录', 'case.conflicts': '待处理的冲突',
  'case.conflict.help': '两处离线修改了同一项，都已保留。请选择正确的值（也可另填），保存后冲突解决。',
  'case.conflict.keep': '采用此值', 'case.conflict.by': '{author} 于 {at}', 'case.conflict.flagged': '该站时钟异常',
  'case.flags': '需人工查看的规则问题', 'case.actions': '可办理的操作', 'case.note.add': '添加记录',
  'case.note.text': '记录内容', 'case.note.kind': '记录类型', 'case.creator': '登记人', 'case.ops': '操作数',
  'case.stub': '本案已移出本站辖区，仅保留存根。', 'case.notfound': '没有这个案件。',
  'note.note': '记录', 'note.visit': '走访', 'note.call': '电话', 'note.mediation': '调解',
  'register.title': '登记', 'register.kind': '类别', 'register.submit': '登记', 'register.done': '已登记：{id}',
  'register.name': '姓名', 'register.idnumber': '公民身份号码', 'register.phone': '联系电话', 'register.address': '住址',
  'register.township': '乡镇（街道）', 'register.village': '村（社区）', 'register.pick': '请选择',
  'register.summary': '诉求及事实理由', 'register.category': '内容分类', 'register.channel': '信访形式',
  'register.people': '人数', 'register.handler': '办理单位', 'register.matter': '事项类型',
  'check.id.length': '应为 18 位', 'check.id.digits': '前 17 位应为数字', 'check.id.date': '出生日期不成立',
  'check.id.check': '校验码不符（应为 {want}）', 'check.phone': '应为 11 位手机号或带区号的固定电话',
  'check.required': '必填',
  'sync.title': '同步状态', 'sync.connected': '已连接', 'sync.disconnected': '未连接', 'sync.pending': '待确认操作',
  'sync.last': '最近同步', 'sync.error': '最近错误', 'sync.peer': '对端', 'sync.clock': '本机时钟',
  'sync.skew': '本机时钟与中心相差 {minutes} 分钟：请校准时间，否则期限可能不准。', 'sync.ahead': '时钟超前 {minutes} 分钟', 'sync.clockcol': '时钟',
  'sync.quarantined': '隔离的操作', 'sync.equivocations': '同点异值告警', 'sync.waiting': '等待补齐的操作',
  'sync.cases': '案件', 'sync.ops': '操作', 'sync.offline': '离线工作中：数据保存在本站，接通网络后自动同步。',
  'bundles.title': '交换包（U 盘）', 'bundles.export': '导出交换包', 'bundles.export.help': '把中心尚未确认的全部操作写成一个加密文件，带到中心导入。',
  'bundles.import': '导入回执包', 'bundles.import.help': '选择从中心带回的回执包。同一个包导入两次不会改变任何数据。',
  'bundles.imported': '已导入：新操作 {ops} 条', 'bundles.choose': '选择文件',
  'quarantine.title': '隔离的操作', 'quarantine.help': '这些操作来自无权修改该案件的站点，已保存但未生效，需要人工处理。',
  'quarantine.case': '案件', 'quarantine.op': '操作', 'quarantine.from': '来自', 'quarantine.empty': '没有隔离的操作。',
  'dash.title': '总览', 'dash.byState': '按状态', 'dash.byTownship': '按乡镇', 'dash.byCategory': '按内容分类',
  'dash.rates': '考核指标', 'dash.region': '区域', 'dash.backlog': '积案', 'dash.repeats': '重复访', 'dash.cases': '案件总数', 'dash.overdue': '逾期', 'dash.near': '临期（7 天内）',
  'stations.title': '站点', 'stations.id': '站点', 'stations.since': '连接自', 'stations.in': '收到操作',
  'stations.out': '发出操作', 'stations.none': '还没有站点登记。', 'stations.last': '最近联系', 'stations.revoked': '已注销', 'stations.requests': '待批准的登记申请', 'stations.requests.help': '请与站点核对密钥指纹（站点运行 fengqiao enroll 时打印）后再批准。', 'stations.fingerprint': '密钥指纹', 'stations.from': '来自', 'stations.approve': '批准', 'stations.decline': '拒绝', 'stations.declined': '已拒绝', 'stations.pending': '待下发', 'stations.pending.help': '站点尚未确认收到的条目（最近一次与本成员同步时所知；“—”为本成员启动后未与其同步）',
  'audit.title': '审计日志', 'audit.who': '查看人', 'audit.when': '时间', 'audit.case': '案件', 'audit.fields': '字段',
  'state.CAPTURED': '采集', 'state.REGISTERED': '登记', 'state.FORWARDED': '转送', 'state.ASSIGNED': '交办',
  'state.ROUTED_LEGAL': '导入政法', 'state.ROUTED_DISCIPLINE': '转纪检监察', 'state.REDIRECTED': '告知另行提出',
  'state.NOT_ACCEPTED': '不予受理', 'state.OBJECTED': '异议', 'state.RETURNED': '退回', 'state.ACCEPTED': '受理',
  'state.ROUTED_TO_PROCEDURE': '分类导入法定途径', 'state.INVESTIGATING': '办理中', 'state.MEDIATING': '调解',
  'state.EXTENDED': '延期', 'state.HEARING': '听证', 'state.OPINION_SERVED': '已答复', 'state.IMPLEMENTING': '落实',
  'state.REVIEW': '复查', 'state.RE_REVIEW': '复核', 'state.CLOSED': '办结', 'state.AGREEMENT': '达成调解协议',
  'state.JUDICIAL_CONFIRMATION': '司法确认', 'state.ESCALATED': '转为信访事项',
};

const en = {
  'app.title': 'Fengqiao',
  'nav.cases': 'Cases', 'nav.register': 'Register', 'nav.sync': 'Sync', 'nav.bundles': 'Bundles',
  'nav.dashboard': 'Overview', 'nav.due': 'Due & overdue', 'nav.stations': 'Stations', 'nav.quarantine': 'Quarantine',
  'nav.audit': 'Audit log', 'nav.accounts': 'Accounts', 'nav.signout': 'Sign out',
  'nav.tokens': 'API tokens',
  'role.grid_worker': 'grid worker', 'role.township_staff': 'township staff', 'role.county_staff': 'county staff', 'role.unit_head': 'unit head',
  'role.leader': 'leader in charge', 'role.judge': 'embedded judge', 'role.mediator': 'mediator', 'role.station_admin': 'station admin', 'role.county_admin': 'county admin',
  'accounts.title': 'Accounts', 'accounts.help': 'Changes made here reach every station in the account\'s scope at its next sync; a revoked account\'s sessions end there then.',
  'accounts.id': 'Account', 'accounts.name': 'Name', 'accounts.unit': 'Unit', 'accounts.region': 'Region code', 'accounts.roles': 'Roles',
  'accounts.password': 'First password', 'accounts.new': 'New account', 'accounts.create': 'Create account', 'accounts.created': 'Account {id} created.',
  'accounts.none': 'No account you manage yet.', 'accounts.revoked': 'revoked', 'accounts.active': 'active', 'accounts.conflict': 'conflict to resolve',
  'accounts.reset': 'Reset password', 'accounts.reset.prompt': 'New password for {id} (at least 8 characters):', 'accounts.reset.done': 'The password of {id} is reset; its sessions ended.',
  'accounts.revoke': 'Revoke', 'accounts.restore': 'Restore',
  'tokens.title': 'API tokens', 'tokens.help': 'For scripts that call the API (a nightly ledger export, say). A token is shown once, when made; this node keeps only its hash.',
  'tokens.label': 'Purpose', 'tokens.days': 'Valid for days (0: no expiry)', 'tokens.new': 'New token', 'tokens.create': 'Create token',
  'tokens.created': 'Created', 'tokens.expires': 'Expires', 'tokens.never': 'never', 'tokens.revoke': 'Revoke', 'tokens.none': 'No token yet.',
  'tokens.shown_once': 'Copy it now; it is not shown again:',
  'lang.switch': '中文',
  'common.loading': 'Loading…', 'common.none': 'none', 'common.save': 'Save', 'common.cancel': 'Cancel',
  'common.more': 'Next page', 'common.error': 'Something went wrong', 'common.retry': 'Retry', 'common.yes': 'yes', 'common.no': 'no',
  'common.all': 'All', 'common.search': 'Search', 'common.never': 'never',
  'err.network': 'Cannot reach the local service: is the program running?', 'err.field': '{field}: {message}',
  'signin.title': 'Sign in', 'signin.account': 'Account', 'signin.password': 'Password', 'signin.submit': 'Sign in',
  'signin.offline': 'No network needed: accounts are kept at this station.',
  'setup.title': 'First use: create the station admin', 'setup.name': 'Name', 'setup.submit': 'Create and sign in',
  'cases.title': 'Cases', 'cases.empty': 'No cases match.', 'cases.id': 'Id', 'cases.number': 'Case no.',
  'cases.kind': 'Kind', 'cases.state': 'State', 'cases.region': 'Region', 'cases.summary': 'Request', 'cases.deadline': 'Next deadline',
  'cases.filter.state': 'State', 'cases.filter.region': 'Region code prefix', 'cases.filter.due': 'Due within (days)',
  'cases.filter.overdue': 'Overdue only', 'cases.filter.kind': 'Kind', 'cases.ledger': 'Export an Excel ledger (identity masked)', 'cases.ledger.full': 'Export with identity (audited)',
  'kind.petition': 'Petition', 'kind.dispute': 'Dispute',
  'due.overdue': '{days} days overdue', 'due.today': 'due today', 'due.left': '{days} days left', 'due.near': 'near due',
  'case.title': 'Case {id}', 'case.fields': 'Details', 'case.timeline': 'Timeline', 'case.conflicts': 'Conflicts to resolve',
  'case.conflict.help': 'Two offline edits changed the same field; both are kept. Choose the right value (or enter another) and save to resolve it.',
  'case.conflict.keep': 'Keep this value', 'case.conflict.by': '{author} at {at}', 'case.conflict.flagged': 'station clock was wrong',
  'case.flags': 'Rule problems for a person to check', 'case.actions': 'Actions', 'case.note.add': 'Add a note',
  'case.note.text': 'Note', 'case.note.kind': 'Type', 'case.creator': 'Registered by', 'case.ops': 'Ops',
  'case.stub': 'This case left this station\'s scope; only a stub is kept.', 'case.notfound': 'No such case.',
  'note.note': 'Note', 'note.visit': 'Visit', 'note.call': 'Call', 'note.mediation': 'Mediation',
  'register.title': 'Register', 'register.kind': 'Kind', 'register.submit': 'Register', 'register.done': 'Registered: {id}',
  'register.name': 'Name', 'register.idnumber': 'Resident ID', 'register.phone': 'Phone', 'register.address': 'Address',
  'register.township': 'Township', 'register.village': 'Village', 'register.pick': 'Choose',
  'register.summary': 'Request, facts and reasons', 'register.category': 'Category', 'register.channel': 'Channel',
  'register.people': 'Number of people', 'register.handler': 'Handling unit', 'register.matter': 'Matter type',
  'check.id.length': 'must be 18 characters', 'check.id.digits': 'the first 17 must be digits', 'check.id.date': 'the birth date does not exist',
  'check.id.check': 'check digit does not match (should be {want})', 'check.phone': 'must be an 11-digit mobile or a landline with area code',
  'check.required': 'required',
  'sync.title': 'Sync', 'sync.connected': 'connected', 'sync.disconnected': 'not connected', 'sync.pending': 'Unacknowledged ops',
  'sync.last': 'Last sync', 'sync.error': 'Last error', 'sync.peer': 'Peer', 'sync.clock': 'This machine\'s clock',
  'sync.skew': 'This machine\'s clock is {minutes} minutes off the hub\'s: set the time, or deadlines may be wrong.', 'sync.ahead': 'clock {minutes} min ahead', 'sync.clockcol': 'Clock',
  'sync.quarantined': 'Quarantined ops', 'sync.equivocations': 'Equivocation alarms', 'sync.waiting': 'Ops waiting for a gap',
  'sync.cases': 'Cases', 'sync.ops': 'Ops', 'sync.offline': 'Working offline: data is kept here and syncs when the network returns.',
  'bundles.title': 'Bundles (USB stick)', 'bundles.export': 'Export a bundle', 'bundles.export.help': 'Writes every op the hub has not acknowledged into one encrypted file to carry to the hub.',
  'bundles.import': 'Import a return bundle', 'bundles.import.help': 'Choose the return bundle brought back from the hub. Importing one twice changes nothing.',
  'bundles.imported': 'Imported: {ops} new ops', 'bundles.choose': 'Choose a file',
  'quarantine.title': 'Quarantined ops', 'quarantine.help': 'These ops came from stations that may not change the case: kept, not applied, waiting for a person.',
  'quarantine.case': 'Case', 'quarantine.op': 'Op', 'quarantine.from': 'From', 'quarantine.empty': 'No quarantined ops.',
  'dash.title': 'Overview', 'dash.byState': 'By state', 'dash.byTownship': 'By township', 'dash.byCategory': 'By category',
  'dash.rates': 'Performance rates', 'dash.region': 'Area', 'dash.backlog': 'Backlog', 'dash.repeats': 'Repeat petitions', 'dash.cases': 'Cases', 'dash.overdue': 'Overdue', 'dash.near': 'Near due (7 days)',
  'stations.title': 'Stations', 'stations.id': 'Station', 'stations.since': 'Connected since', 'stations.in': 'Ops received',
  'stations.out': 'Ops sent', 'stations.none': 'No station is enrolled yet.', 'stations.last': 'Last contact', 'stations.revoked': 'revoked', 'stations.requests': 'Enrollment requests to approve', 'stations.requests.help': 'Compare the key fingerprint with the station\'s (fengqiao enroll prints it) before approving.', 'stations.fingerprint': 'Key fingerprint', 'stations.from': 'From', 'stations.approve': 'Approve', 'stations.decline': 'Decline', 'stations.declined': 'declined', 'stations.pending': 'To send', 'stations.pending.help': 'Entries the station has not acknowledged yet (as of its latest session with this member; "—": none since this member started)',
  'audit.title': 'Audit log', 'audit.who': 'Viewer', 'audit.when': 'When', 'audit.case': 'Case', 'audit.fields': 'Fields',
  'state.CAPTURED': 'Captured', 'state.REGISTERED': 'Registered', 'state.FORWARDED': 'Forwarded', 'state.ASSIGNED': 'Assigned',
  'state.ROUTED_LEGAL': 'Routed to legal', 'state.ROUTED_DISCIPLINE': 'Routed to discipline', 'state.REDIRECTED': 'Redirected',
  'state.NOT_ACCEPTED': 'Not accepted', 'state.OBJECTED': 'Objected', 'state.RETURNED': 'Returned', 'state.ACCEPTED': 'Accepted',
  'state.ROUTED_TO_PROCEDURE': 'Routed to procedure', 'state.INVESTIGATING': 'Investigating', 'state.MEDIATING': 'Mediating',
  'state.EXTENDED': 'Extended', 'state.HEARING': 'Hearing', 'state.OPINION_SERVED': 'Opinion served', 'state.IMPLEMENTING': 'Implementing',
  'state.REVIEW': 'Review', 'state.RE_REVIEW': 'Re-review', 'state.CLOSED': 'Closed', 'state.AGREEMENT': 'Agreement',
  'state.JUDICIAL_CONFIRMATION': 'Judicial confirmation', 'state.ESCALATED': 'Escalated',
};

const dicts = { zh, en };
let current = localStorage.getItem('fq.lang') === 'en' ? 'en' : 'zh';

export function lang() { return current; }

export function setLang(l) {
  current = l === 'en' ? 'en' : 'zh';
  localStorage.setItem('fq.lang', current);
  document.documentElement.lang = current === 'en' ? 'en' : 'zh-CN';
}

export function t(key, vars) {
  let s = dicts[current][key] ?? zh[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

// label picks the Chinese or English of a {zh, en} pair from the API's schema.
export function label(pair) {
  if (!pair) return '';
  return current === 'en' ? (pair.en || pair.zh) : (pair.zh || pair.en);
}

// localized picks the half of a "中文 / English" message for the chosen language.
export function localized(msg) {
  if (typeof msg !== 'string') return '';
  const i = msg.indexOf(' / ');
  if (i < 0) return msg;
  return current === 'en' ? msg.slice(i + 3) : msg.slice(0, i);
}

setLang(current);
