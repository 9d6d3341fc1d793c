import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const root = join(import.meta.dirname, '..', '..');

/** Runs the real CLI (`node bin/b24flow.js ...`) as a child process. */
export function cli(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'b24flow.js'), ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...opts.env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * The skill's run-time classifier (last word of the name), as seed-methods.md describes it: writes and destructive
 * verbs from a fixed list, everything else counted as a read.
 */
export function lastWordRisk(method: string): 'read' | 'write' | 'destructive' {
  const m = method.toLowerCase();
  if (/(?:^|\.)(delete|remove|recyclebin|unregister|unbind)$/.test(m)) return 'destructive';
  if (/(?:^|\.)(add|update|set|register|bind|import|complete|start|stop|move|clear)$/.test(m)) return 'write';
  return 'read';
}

const R = { r: 'read', w: 'write', d: 'destructive' } as const;
const SEED_TEXT = `
core: user.current r, user.get r, department.get r, crm.lead.add w, crm.lead.list r, crm.lead.update w, crm.deal.add w,
  crm.deal.list r, crm.deal.update w, tasks.task.add w, tasks.task.list r, tasks.task.update w, tasks.task.complete w,
  event.bind w, event.get r, event.unbind d, event.offline.list r, event.offline.get r, event.offline.clear d,
  event.offline.error w
comms: im.message.add w, im.message.update w, im.message.delete d, im.dialog.messages.get r, imbot.register w,
  imbot.command.register w, imbot.command.answer w, telephony.externalCall.register w, telephony.externalCall.finish w,
  messageservice.sender.list r, imconnector.list r, mailservice.list r
automation: bizproc.workflow.start w, bizproc.workflow.terminate d, bizproc.workflow.kill d, bizproc.task.list r,
  bizproc.task.complete w, bizproc.robot.list r, bizproc.robot.add w, bizproc.robot.update w,
  bizproc.workflow.template.list r, bizproc.workflow.template.update w
collab: sonet_group.get r, sonet_group.create w, sonet_group.update w, sonet_group.delete d, log.blogpost.add w,
  log.blogpost.update w, log.blogpost.delete d, log.blogcomment.add w, log.blogcomment.delete d
content: disk.storage.getList r, disk.storage.getChildren r, disk.folder.getChildren r, disk.folder.addSubFolder w,
  disk.folder.uploadFile w, disk.file.get r, disk.file.copyTo w, disk.file.moveTo w, disk.file.delete d,
  documentgenerator.document.add w
boards: tasks.api.scrum.sprint.list r, tasks.api.scrum.sprint.add w, tasks.api.scrum.sprint.start w,
  tasks.api.scrum.sprint.complete w, tasks.api.scrum.kanban.getStages r, tasks.api.scrum.kanban.addTask w,
  tasks.api.scrum.kanban.deleteTask d, tasks.api.scrum.epic.list r, tasks.api.scrum.epic.add w,
  tasks.api.scrum.backlog.add w
commerce: sale.order.list r, sale.order.add w, sale.order.update w, sale.payment.list r, sale.payment.add w,
  sale.delivery.getlist r, catalog.product.list r, catalog.product.add w, catalog.product.update w, catalog.price.list r,
  catalog.price.add w
services: booking.v1.booking.list r, booking.v1.booking.add w, booking.v1.booking.update w, booking.v1.resource.list r,
  calendar.event.get r, calendar.event.add w, calendar.event.update w, calendar.section.get r, timeman.status r,
  timeman.open w, timeman.close w
platform: ai.engine.list r, ai.engine.register w, ai.engine.unregister d, entity.get r, entity.add w, entity.update w,
  entity.item.get r, entity.item.add w, biconnector.source.list r, biconnector.source.add w, biconnector.connector.list r
sites: landing.site.getList r, landing.site.add w, landing.site.update w, landing.site.delete d, landing.landing.getList r,
  landing.landing.add w, landing.landing.update w, landing.landing.delete d, landing.block.getlist r, landing.block.addcard w
compliance: userconsent.agreement.list r, userconsent.agreement.text r, userconsent.consent.add w,
  sign.b2e.personal.tail r, sign.b2e.mysafe.tail r
diagnostics: method.get r, methods r, events r, scope r, feature.get r, server.time r
`;

/**
 * The skill's 12 packs with the risk class its catalog states (seed-methods.md), names in documented case.
 * `sonet_group.list` is left out: no such method is documented (workgroups are listed by sonet_group.get and
 * socialnetwork.api.workgroup.list). `batch` is checked separately (its risk is that of its worst command).
 */
export const SEED: Array<{ pack: string; method: string; risk: 'read' | 'write' | 'destructive' }> = SEED_TEXT.trim()
  .split(/\n(?=[a-z]+:)/)
  .flatMap((block) => {
    const [pack, rest] = block.split(/:\s/, 2) as [string, string];
    return rest
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => {
        const [method, r] = s.split(/\s+/) as [string, 'r' | 'w' | 'd'];
        return { pack, method, risk: R[r] };
      });
  });

/** Methods the MVP allowed (official names). */
export const MVP = [
  'user.current',
  'user.get',
  'crm.contact.list',
  'crm.contact.get',
  'crm.company.list',
  'crm.company.get',
  'crm.deal.list',
  'crm.deal.get',
  'crm.deal.add',
  'crm.deal.update',
  'crm.category.list',
  'crm.status.list',
  'crm.dealcategory.list',
  'crm.dealcategory.stage.list',
  'crm.activity.list',
  'crm.activity.add',
  'crm.timeline.comment.add',
  'tasks.task.add',
  'tasks.task.update',
  'tasks.task.list',
  'task.commentitem.add',
  'task.checklistitem.add',
  'sonet_group.get',
  'sonet_group.user.get',
  'batch',
  'event.bind',
  'event.get',
  'event.unbind',
];
