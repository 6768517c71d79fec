// The master's side of the Mesos v1 scheduler API: each call, already parsed and checked by the route
// (master/scheduler/), turned into what the current Leader does. Calls reach whichever Leader leads
// now; a master that does not lead never gets here (the HTTP layer redirects or answers 503).
import {
  TesseraError,
  ValidationError,
  subscribedEvent,
  type AcceptCall,
  type AcknowledgeCall,
  type DeclineCall,
  type KillCall,
  type MasterInfo,
  type ReconcileCall,
  type SubscribeCall,
} from '../../common/index.js';
import type { Leader, LaunchRequestItem } from '../leader.js';
import {
  ForbiddenError,
  frameworkRoles,
  masterInfoToMesos,
  refuseSeconds,
  taskInfoFromMesos,
  uuidFromMesos,
  type EventSink,
  type SchedulerApi,
} from '../scheduler/index.js';
import { MesosDriver } from './mesos-driver.js';

export interface SchedulerServiceOptions {
  /** The Leader of the current term; throws (503/307 upstream) when this master does not lead. */
  leader: () => Leader;
  masterInfo: MasterInfo;
  /** Told to frameworks in SUBSCRIBED; the route sends the heartbeats. */
  heartbeatIntervalSeconds: number;
  /** --roles: when given, frameworks may only subscribe with these roles ('*' is always allowed). */
  allowedRoles?: ReadonlySet<string>;
}

export class SchedulerService implements SchedulerApi {
  constructor(private readonly options: SchedulerServiceOptions) {}

  subscribe(call: SubscribeCall, sink: EventSink, principal: string | undefined): { frameworkId: string; streamId: string } {
    const info = call.subscribe.framework_info;
    const roles = frameworkRoles(info);
    if (roles.length > 1) {
      throw new ValidationError('subscribe.framework_info.roles', 'Tessera allocates each framework under one role; give one');
    }
    const role = roles[0] ?? '*';
    const allowed = this.options.allowedRoles;
    if (allowed && role !== '*' && !allowed.has(role)) {
      throw new ForbiddenError(`role '${role}' is not allowed (--roles: ${[...allowed].join(', ')})`);
    }
    if (principal !== undefined && info.principal !== undefined && info.principal !== principal) {
      throw new ForbiddenError(`framework_info.principal '${info.principal}' is not the authenticated principal '${principal}'`);
    }
    const leader = this.options.leader();
    const id = call.framework_id?.value ?? info.id?.value;
    const frameworkPrincipal = principal ?? info.principal;
    const driver = new MesosDriver(sink, role, (agentId) => leader.agentInfo(agentId));
    const { frameworkId, streamId } = leader.subscribeFramework(
      {
        name: info.name,
        user: info.user,
        role,
        failoverTimeoutSeconds: info.failover_timeout ?? 0,
        capabilities: (info.capabilities ?? []).map((c) => c.type),
        ...(id === undefined ? {} : { id }),
        ...(frameworkPrincipal === undefined ? {} : { principal: frameworkPrincipal }),
        ...(info.hostname === undefined ? {} : { hostname: info.hostname }),
        ...(info.webui_url === undefined ? {} : { webuiUrl: info.webui_url }),
      },
      driver,
    );
    // SUBSCRIBED goes first: offers come on the next turn of the event loop at the earliest.
    sink.send(subscribedEvent(frameworkId, this.options.heartbeatIntervalSeconds, masterInfoToMesos(this.options.masterInfo)));
    sink.onClose(() => leader.frameworkDisconnected(frameworkId, streamId));
    return { frameworkId, streamId };
  }

  streamIdOf(frameworkId: string): string | undefined {
    return this.options.leader().streamIdOf(frameworkId);
  }

  principalOf(frameworkId: string): string | undefined {
    return this.options.leader().frameworkPrincipal(frameworkId);
  }

  accept(frameworkId: string, accept: AcceptCall['accept']): void {
    const items: LaunchRequestItem[] = [];
    (accept.operations ?? []).forEach((operation, o) => {
      operation.launch.task_infos.forEach((task, i) => {
        try {
          items.push({ task: taskInfoFromMesos(task, frameworkId, `accept.operations[${o}].launch.task_infos[${i}]`) });
        } catch (err) {
          // One bad task fails alone (TASK_ERROR), as Mesos does; the others still launch.
          if (!(err instanceof TesseraError)) throw err;
          items.push({ taskId: task.task_id.value, error: err.message });
        }
      });
    });
    this.options.leader().acceptOffers(
      frameworkId,
      accept.offer_ids.map((id) => id.value),
      items,
      refuseSeconds(accept.filters),
    );
  }

  decline(frameworkId: string, decline: DeclineCall['decline']): void {
    this.options.leader().declineOffers(
      frameworkId,
      decline.offer_ids.map((id) => id.value),
      refuseSeconds(decline.filters),
    );
  }

  kill(frameworkId: string, kill: KillCall['kill']): void {
    this.options.leader().killFrameworkTask(frameworkId, kill.task_id.value, kill.agent_id?.value);
  }

  acknowledge(frameworkId: string, ack: AcknowledgeCall['acknowledge']): void {
    const uuid = uuidFromMesos(ack.uuid, 'acknowledge.uuid');
    this.options.leader().acknowledgeUpdate(frameworkId, ack.agent_id.value, ack.task_id.value, uuid);
  }

  reconcile(frameworkId: string, reconcile: ReconcileCall['reconcile']): void {
    const tasks = (reconcile.tasks ?? []).map((t) => ({
      taskId: t.task_id.value,
      ...(t.agent_id === undefined ? {} : { agentId: t.agent_id.value }),
    }));
    this.options.leader().reconcileTasks(frameworkId, tasks);
  }

  revive(frameworkId: string): void {
    this.options.leader().reviveFramework(frameworkId);
  }

  suppress(frameworkId: string): void {
    this.options.leader().suppressFramework(frameworkId);
  }

  teardown(frameworkId: string): void {
    this.options.leader().teardownFramework(frameworkId);
  }
}
