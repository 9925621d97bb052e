import * as fs from 'node:fs';
import * as path from 'node:path';
import { Controller, Get, Inject, Logger, OnApplicationShutdown, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Eta } from 'eta';
import { Public } from '../auth/decorators';
import { applyTrust, trustPolicy } from '../auth/role-trust';
import { Role } from '../auth/roles';
import { AzureRuntime } from '../azure/azure-runtime';
import { Clock } from '../common/clock';
import { AppConfig, APP_CONFIG, PROJECT_ROOT } from '../config/app-config';
import { AUDIT_ACTIONS } from '../audit/audit.dto';
import { DashboardService } from './dashboard.service';
import { DashboardSignIn } from './oidc';
import { DashboardSession, PENDING_COOKIE, SESSION_COOKIE, SessionCookies } from './session-cookie';

const DASHBOARD_DIR = path.join(PROJECT_ROOT, 'src', 'dashboard');

/** Static files of the dashboard: name -> [file, content type]. Libraries come from node_modules as installed. */
const ASSETS: Record<string, [string, string]> = {
  'htmx.min.js': [require.resolve('htmx.org/dist/htmx.min.js'), 'text/javascript; charset=utf-8'],
  // chart.js's package exports do not list its UMD build: found next to its main entry.
  'chart.umd.js': [path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js'), 'text/javascript; charset=utf-8'],
  'dashboard.js': [path.join(DASHBOARD_DIR, 'assets', 'dashboard.js'), 'text/javascript; charset=utf-8'],
  'dashboard.css': [path.join(DASHBOARD_DIR, 'assets', 'dashboard.css'), 'text/css; charset=utf-8'],
};

/** Security headers of every dashboard page: scripts and styles from this origin only, no framing. */
const PAGE_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self' https:; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
  'Cache-Control': 'no-store',
};

/** A tenant as the sign-in form takes it: a GUID or a domain name. */
const TENANT = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[a-z0-9][a-z0-9-]{0,62}(\.[a-z0-9-]{1,63})+)$/i;

/**
 * The operators' and publishers' dashboard (issue 11), server-rendered (eta templates, htmx for live
 * fragments, Chart.js), behind Entra ID sign-in (authorization code + PKCE, openid-client; the app
 * roles of the API, with the same trust rules; a signed HttpOnly SameSite cookie; a CSRF token on the
 * sign-out form):
 * - GET /            fleet overview (every offer × region; refreshes every 2 s without reloading)
 * - GET /ui/fleet    the overview's table (htmx fragment)
 * - GET /ui/offers/{offerId}  an offer: configuration (no secrets), health, pools, live sessions,
 *                    failures with the Azure error, incidents, a 24-hour chart of starts and time-to-ready
 * - GET /ui/audit    the audit log, filterable (operators)
 * - GET /auth/signin, GET /auth/callback, POST /auth/signout
 * Another publisher's offer is 404, as in the API. Not in the OpenAPI document (HTML, not the API).
 */
@ApiExcludeController()
@Public()
@Controller()
export class DashboardController implements OnApplicationShutdown {
  private readonly logger = new Logger('Dashboard');
  private readonly eta = new Eta({ views: path.join(DASHBOARD_DIR, 'views'), autoEscape: true, cache: true, autoTrim: false });
  private readonly cookies: SessionCookies;
  private readonly signIn: DashboardSignIn | null;
  private readonly publicUrl: string;

  constructor(
    private readonly dashboard: DashboardService,
    private readonly clock: Clock,
    private readonly runtime: AzureRuntime,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.publicUrl = config.dashboard.publicUrl ?? `http://localhost:${config.port}`;
    const secure = !/^http:\/\/(localhost|127\.0\.0\.1)(:\d+)?$/.test(this.publicUrl);
    this.cookies = new SessionCookies(config.dashboard.sessionSecret, secure);
    const authority = config.auth.authorityHost ?? runtime.endpoints.authorityHost;
    this.signIn = config.dashboard.clientId && config.dashboard.clientSecret ? new DashboardSignIn(runtime, authority.replace(/\/+$/, ''), config.dashboard.clientId, config.dashboard.clientSecret) : null;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.signIn?.close();
  }

  @Get()
  async overview(@Query('returnTo') returnTo: unknown, @Req() req: Request, @Res() res: Response): Promise<void> {
    const s = await this.session(req);
    const back = typeof returnTo === 'string' && /^\/(?!\/)[\w\-./?=&%]*$/.test(returnTo) ? returnTo : null;
    if (!s) return this.page(res, 200, 'signin', { title: 'Sign in', tenant: this.runtime.serviceIdentity.tenantId, configured: !!this.signIn, error: null, returnTo: back });
    if (!this.allowed(s)) return this.page(res, 403, 'message', { title: 'No access', session: s, message: 'Your account holds neither the Operator nor the Publisher app role of this service.' });
    const fleet = await this.dashboard.fleet(s);
    this.page(res, 200, 'overview', { title: 'Fleet', session: s, operator: this.dashboard.isOperator(s), ...fleet });
  }

  @Get('ui/fleet')
  async fleetFragment(@Req() req: Request, @Res() res: Response): Promise<void> {
    const s = await this.session(req);
    if (!s || !this.allowed(s)) {
      res.set({ ...PAGE_HEADERS, 'HX-Redirect': '/' }).status(401).type('text/plain').send('Signed out.');
      return;
    }
    const fleet = await this.dashboard.fleet(s);
    res.set(PAGE_HEADERS).status(200).type('html').send(this.eta.render('fleet', { ...fleet, operator: this.dashboard.isOperator(s) }));
  }

  @Get('ui/offers/:offerId')
  async offer(@Param('offerId') offerId: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    const s = await this.session(req);
    if (!s) return this.redirectToSignIn(req, res);
    const data = this.allowed(s) ? await this.dashboard.offerPage(s, offerId) : null;
    if (!data) return this.page(res, 404, 'message', { title: 'Not found', session: s, message: `There is no offer '${offerId.slice(0, 50)}' you may see.` });
    this.page(res, 200, 'offer', { title: data.offer.alias, session: s, operator: this.dashboard.isOperator(s), ...data, chartJson: JSON.stringify(data.chart) });
  }

  @Get('ui/audit')
  async audit(@Query('offerId') offerId: unknown, @Query('action') action: unknown, @Req() req: Request, @Res() res: Response): Promise<void> {
    const s = await this.session(req);
    if (!s) return this.redirectToSignIn(req, res);
    const filter = {
      offerId: typeof offerId === 'string' && /^[a-z0-9_-]{1,50}$/.test(offerId) ? offerId : undefined,
      action: typeof action === 'string' && (AUDIT_ACTIONS as readonly string[]).includes(action) ? (action as (typeof AUDIT_ACTIONS)[number]) : undefined,
    };
    const events = await this.dashboard.auditLog(s, filter);
    if (!events) return this.page(res, 404, 'message', { title: 'Not found', session: s, message: 'The audit log is for operators.' });
    this.page(res, 200, 'audit', { title: 'Audit log', session: s, operator: true, events, filter, actions: AUDIT_ACTIONS });
  }

  @Get('auth/signin')
  async beginSignIn(@Query('tenant') tenant: unknown, @Query('returnTo') returnTo: unknown, @Query('login_hint') loginHint: unknown, @Res() res: Response): Promise<void> {
    if (!this.signIn) return this.page(res, 503, 'signin', { title: 'Sign in', tenant: '', configured: false, error: null });
    const t = typeof tenant === 'string' && tenant.trim() ? tenant.trim().toLowerCase() : this.runtime.serviceIdentity.tenantId;
    if (!TENANT.test(t)) return this.page(res, 400, 'signin', { title: 'Sign in', tenant: t.slice(0, 100), configured: true, error: 'The tenant must be a directory (tenant) ID or a domain name such as contoso.onmicrosoft.com.' });
    const back = typeof returnTo === 'string' && /^\/(?!\/)[\w\-./?=&%]*$/.test(returnTo) ? returnTo : '/';
    try {
      const { url, pending } = await this.signIn.begin(t, `${this.publicUrl}/auth/callback`, back, typeof loginHint === 'string' ? loginHint.slice(0, 200) : undefined);
      res.set(PAGE_HEADERS).setHeader('Set-Cookie', await this.cookies.pending(pending, this.nowSeconds()));
      res.redirect(302, url);
    } catch (err) {
      this.logger.warn(`sign-in could not start for tenant ${t}: ${(err as Error).message}`);
      this.page(res, 502, 'signin', { title: 'Sign in', tenant: t, configured: true, error: `Entra ID did not answer for tenant '${t}': check the tenant and try again.` });
    }
  }

  @Get('auth/callback')
  async callback(@Req() req: Request, @Res() res: Response): Promise<void> {
    if (!this.signIn) return this.page(res, 503, 'signin', { title: 'Sign in', tenant: '', configured: false, error: null });
    const pending = await this.cookies.readPending(req.headers.cookie, this.nowSeconds());
    const fail = (status: number, error: string) => {
      res.setHeader('Set-Cookie', this.cookies.clear(PENDING_COOKIE));
      this.page(res, status, 'signin', { title: 'Sign in', tenant: pending?.tenant ?? this.runtime.serviceIdentity.tenantId, configured: true, error });
    };
    if (!pending) return fail(400, 'The sign-in took too long or was started in another browser: please sign in again.');
    const q = new URL(req.originalUrl, this.publicUrl).searchParams;
    if (q.get('error')) return fail(401, `Entra ID refused the sign-in: ${(q.get('error_description') ?? q.get('error') ?? '').slice(0, 300)}`);
    try {
      const user = await this.signIn.complete(new URL(req.originalUrl, this.publicUrl), pending);
      const honoured = this.honouredRoles(user.tid, user.roles);
      const { cookie } = await this.cookies.issue(user, honoured, this.nowSeconds());
      res.set(PAGE_HEADERS).setHeader('Set-Cookie', [cookie, this.cookies.clear(PENDING_COOKIE)]);
      this.logger.log({ oid: user.oid, tid: user.tid, roles: honoured }, 'dashboard sign-in');
      res.redirect(303, pending.returnTo || '/');
    } catch (err) {
      this.logger.warn(`dashboard sign-in failed: ${(err as Error).message}`);
      fail(401, 'The sign-in could not be completed: please try again.');
    }
  }

  @Post('auth/signout')
  async signOut(@Req() req: Request, @Res() res: Response): Promise<void> {
    const s = await this.session(req);
    const form = new URLSearchParams(Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '');
    if (!s || form.get('csrf') !== s.csrf) {
      res.set(PAGE_HEADERS).status(403).type('text/plain').send('Sign-out refused: the form is stale or did not come from this dashboard. Reload the page and try again.');
      return;
    }
    res.set(PAGE_HEADERS).setHeader('Set-Cookie', this.cookies.clear(SESSION_COOKIE));
    const url = this.signIn ? await this.signIn.endSessionUrl(s.tid, `${this.publicUrl}/`).catch(() => '/') : '/';
    this.logger.log({ oid: s.oid, tid: s.tid }, 'dashboard sign-out');
    res.redirect(303, url);
  }

  @Get('assets/:name')
  asset(@Param('name') name: string, @Res() res: Response): void {
    const a = Object.prototype.hasOwnProperty.call(ASSETS, name) ? ASSETS[name] : undefined;
    if (!a) {
      res.status(404).type('text/plain').send('Not found.');
      return;
    }
    res.set({ 'Content-Type': a[1], 'Cache-Control': 'public, max-age=3600', 'X-Content-Type-Options': 'nosniff' });
    fs.createReadStream(a[0]).on('error', () => res.status(404).end()).pipe(res);
  }

  private nowSeconds(): number {
    return Math.floor(this.clock.now() / 1000);
  }

  private async session(req: Request): Promise<DashboardSession | null> {
    return this.cookies.read(req.headers.cookie, this.nowSeconds());
  }

  private allowed(s: DashboardSession): boolean {
    return s.honouredRoles.includes(Role.Operator) || s.honouredRoles.includes(Role.Publisher);
  }

  /** The user's roles the service honours: Operator only from the trusted tenants (AUTH_OPERATOR_TENANTS), as for the API. */
  private honouredRoles(tid: string, roles: string[]): string[] {
    const policy = trustPolicy({ operatorTenants: this.config.auth.operatorTenants, marketplaceTenants: this.config.auth.marketplaceTenants }, this.runtime.serviceIdentity.tenantId);
    return applyTrust(policy, tid, '', roles).honoured.filter((r) => r === Role.Operator || r === Role.Publisher);
  }

  private redirectToSignIn(req: Request, res: Response): void {
    res.set(PAGE_HEADERS).redirect(302, `/?returnTo=${encodeURIComponent(req.originalUrl)}`);
  }

  private page(res: Response, status: number, view: string, data: Record<string, unknown>): void {
    res.set(PAGE_HEADERS).status(status).type('html').send(this.eta.render(view, { ...data, csrf: (data.session as DashboardSession | undefined)?.csrf ?? '' }));
  }
}
