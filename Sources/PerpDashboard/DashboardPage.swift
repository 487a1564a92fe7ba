/// The dashboard's one page: HTML, CSS and script served by the binary (no CDN; works offline).
/// The script draws its charts as SVG, fetches the `/api` JSON and listens to `/api/events`
/// (server-sent events) to refresh what changed without reloading. Every value from a session is
/// set as text, never as markup.
enum DashboardPage {
    static func html(token: String, readOnly: Bool, remote: Bool = false) -> String {
        """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="csrf-token" content="\(token)">
        <meta name="read-only" content="\(readOnly ? "1" : "0")">
        <meta name="remote" content="\(remote ? "1" : "0")">
        <link rel="icon" href="data:,">
        <title>NMRPerp dashboard</title>
        <style>\(css)</style>
        </head>
        <body>
        <header><h1>NMRPerp</h1><span id="conn" class="badge">connecting…</span>\(readOnly ? "<span class=\"badge\">read-only</span>" : "")<span id="clock"></span></header>
        <div id="layout">
        <nav id="sessions" aria-label="sessions"><p class="muted">Loading sessions…</p></nav>
        <main id="main"><p class="muted">Choose a session on the left. Sessions are the paper, live and hedge files under $NMRPERP_HOME and the backtests in its journal.</p></main>
        </div>
        <script>\(script)</script>
        </body>
        </html>
        """
    }

    static let css = """
        body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2330;background:#f5f6f8}
        header{display:flex;gap:12px;align-items:center;padding:8px 16px;background:#1d2330;color:#fff}
        header h1{font-size:18px;margin:0}#clock{margin-left:auto;font-variant-numeric:tabular-nums}
        .badge{padding:2px 8px;border-radius:10px;background:#55607a;font-size:12px}.ok{background:#2e7d32}.bad{background:#c62828}.warn{background:#ef6c00}
        #layout{display:flex;min-height:calc(100vh - 40px)}
        nav{width:280px;border-right:1px solid #d6d9e0;background:#fff;overflow:auto}
        nav h2{font-size:12px;text-transform:uppercase;color:#6b7385;margin:12px 12px 4px}
        nav button{display:block;width:100%;text-align:left;border:0;background:none;padding:6px 12px;cursor:pointer;font:inherit}
        nav button:hover,nav button.sel{background:#e8ecf5}
        nav .sub{display:block;font-size:12px;color:#6b7385}
        main{flex:1;padding:16px;overflow:auto}
        .cards{display:flex;flex-wrap:wrap;gap:8px;margin-bottom:12px}
        .card{background:#fff;border:1px solid #d6d9e0;border-radius:6px;padding:8px 12px;min-width:120px}
        .card .l{font-size:12px;color:#6b7385}.card .v{font-size:18px;font-variant-numeric:tabular-nums}
        section{background:#fff;border:1px solid #d6d9e0;border-radius:6px;padding:12px;margin-bottom:12px}
        section h3{margin:0 0 8px;font-size:15px}
        table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
        th,td{text-align:left;padding:4px 6px;border-bottom:1px solid #eceef2;vertical-align:top}
        th{font-size:12px;color:#6b7385;font-weight:600}
        .muted{color:#6b7385}.problem{color:#c62828}
        .bar{height:10px;background:#eceef2;border-radius:5px;position:relative;width:240px;display:inline-block;vertical-align:middle}
        .bar i{position:absolute;left:0;top:0;bottom:0;border-radius:5px;background:#3f6fd8}
        .filters button{margin:0 4px 6px 0;border:1px solid #c5cad6;background:#fff;border-radius:12px;padding:2px 10px;cursor:pointer}
        .filters button.on{background:#1d2330;color:#fff}
        .kill{background:#c62828;color:#fff;border:0;border-radius:4px;padding:6px 12px;cursor:pointer;font-weight:600}
        svg text{font-size:11px;fill:#6b7385}
        """

    static let script = """
        'use strict';
        const token=document.querySelector('meta[name=csrf-token]').content;
        const readOnly=document.querySelector('meta[name=read-only]').content==='1';
        const remote=document.querySelector('meta[name=remote]').content==='1';
        let sessions=[],selected=null,filter=null,timer=null;
        const groups=[['entries','entry'],['exits','exit,stop,target,time_exit,liquidation'],['refusals','risk_denied'],['circuit breaker','circuit_breaker,state_change'],['bad data','bad_data,stale_feed,bad_response,missing_bars'],['funding','funding'],['orders','order,execution'],['hedge','hedge']];
        function el(tag,attrs,...kids){const e=document.createElement(tag);for(const[k,v]of Object.entries(attrs||{})){if(k==='class')e.className=v;else if(k.startsWith('on'))e.addEventListener(k.slice(2),v);else e.setAttribute(k,v)}for(const k of kids){if(k==null)continue;e.append(k instanceof Node?k:document.createTextNode(String(k)))}return e}
        function num(v,d=2){if(v==null||v==='')return '—';const n=Number(v);return Number.isFinite(n)?n.toLocaleString('en-US',{minimumFractionDigits:d,maximumFractionDigits:d}):String(v)}
        function pct(v){return v==null?'—':(Number(v)*100).toFixed(2)+' %'}
        function when(t){return t?String(t).replace('T',' ').replace(/\\.\\d+Z$/,'Z'):'—'}
        function left(s){if(s==null)return '—';s=Number(s);const h=Math.floor(s/3600),m=Math.floor(s%3600/60),x=s%60;return (h?h+'h ':'')+(h||m?m+'m ':'')+x+'s'}
        function path(id,what){const [kind,...rest]=id.split('/');return '/api/sessions/'+encodeURIComponent(kind)+'/'+encodeURIComponent(rest.join('/'))+'/'+what}
        async function get(url){const r=await fetch(url,{cache:'no-store',headers:remote?{'Authorization':'Bearer '+token}:{}});const j=await r.json();if(!r.ok)throw new Error(j.error||r.status);return j}
        function card(label,value,id){return el('div',{class:'card'},el('div',{class:'l'},label),el('div',{class:'v','data-field':id||label},value))}
        async function loadList(){
          try{sessions=await get('/api/sessions')}catch(e){return}
          const nav=document.getElementById('sessions');nav.replaceChildren();
          if(!sessions.length)nav.append(el('p',{class:'muted',style:'padding:12px'},'No sessions yet. Start one with `nmrperp paper`, `nmrperp live run` or `nmrperp hedge run`.'));
          for(const kind of ['paper','live','hedge','backtest']){
            const list=sessions.filter(s=>s.kind===kind);if(!list.length)continue;
            nav.append(el('h2',{},kind==='backtest'?'backtests':kind+' sessions'));
            for(const s of list){
              const sub=s.readable===false?('unreadable: '+(s.problem||'')):[s.state,s.running?'running':(kind==='backtest'?'':'not running'),s.equity!=null?num(s.equity)+' USDT':null].filter(Boolean).join(' · ');
              nav.append(el('button',{class:s.id===selected?'sel':'','data-id':s.id,onclick:()=>select(s.id)},s.name,el('span',{class:'sub'+(s.readable===false?' problem':'')},sub)));
            }
          }
        }
        function select(id){selected=id;filter=null;loadList();loadSession()}
        async function loadSession(){
          if(!selected)return;const id=selected;const s=sessions.find(x=>x.id===id);
          const main=document.getElementById('main');
          const kind=id.split('/')[0];const wants=kind==='backtest'?['equity']:['equity','positions','risk','funding'].concat(kind==='hedge'?['hedge']:[]);
          const parts=await Promise.all(['equity','positions','risk','funding','hedge'].map(w=>wants.includes(w)?get(path(id,w)).catch(e=>null):null));
          const journal=await get(path(id,'journal')+'?limit=200'+(filter?'&events='+encodeURIComponent(filter):'')).catch(e=>({rows:[],problem:String(e)}));
          if(id!==selected)return;
          const [eq,pos,risk,fund,hedge]=parts;const view=[];
          view.push(el('h2',{},id,' ',s&&s.running?el('span',{class:'badge ok'},'running pid '+s.running.pid):el('span',{class:'badge'},s&&s.kind==='backtest'?'finished':'not running')));
          if(s&&s.readable===false)view.push(el('p',{class:'problem','data-field':'problem'},'Unreadable: '+s.problem));
          if(eq&&eq.problem)view.push(el('p',{class:'problem'},eq.problem));
          if(s&&s.kind!=='hedge'&&eq){
            view.push(el('div',{class:'cards'},card('Equity',num(eq.equity??eq.realized_pnl),'equity'),card('Realized P&L',num(eq.realized_pnl),'realized_pnl'),card('Unrealized P&L',num(eq.unrealized_pnl),'unrealized_pnl'),card('Fees',num(eq.fees),'fees'),card('Funding paid',num(eq.funding_paid),'funding_paid'),card('Max drawdown',num(eq.max_drawdown),'max_drawdown')));
            const cols=eq.columns||[];const pts=eq.points||[];
            const yi=cols.indexOf(s.kind==='backtest'?'realized_pnl':'equity'),di=cols.indexOf('drawdown');
            view.push(el('section',{},el('h3',{},s.kind==='backtest'?'Realised P&L (USDT)':'Equity (USDT)',el('span',{class:'muted'},' · '+(eq.count||0)+' bars, '+pts.length+' drawn')),chart(pts.map(p=>[p[0],Number(p[yi])]),'USDT','#3f6fd8')));
            if(di>=0)view.push(el('section',{},el('h3',{},'Drawdown from peak (USDT)'),chart(pts.map(p=>[p[0],Number(p[di])]),'USDT','#c62828')));
          }
          if(hedge&&hedge.status){
            const h=hedge.status;
            view.push(el('section',{},el('h3',{},'Stake hedge'),el('div',{class:'cards'},card('Staked (NMR)',num(h.stake),'stake'),card('Short (NMR)',num(h.short),'short'),card('Collateral (USDC)',num(h.collateral),'collateral'),card('Required k·q·P',num(h.required_collateral),'required_collateral'),card('Price',num(h.price,4),'price'),card('Warn at',num(h.warning_price,4),'warning'),card('Liquidation',num(h.liquidation_price,4),'liquidation'),card('Next rebalance',when(h.next_rebalance),'next_rebalance'),card('Funding paid',num(h.funding_paid),'funding_paid'))));
            if(eq&&eq.points){const c=eq.columns;view.push(el('section',{},el('h3',{},'Collateral vs required (USDC)'),chart(eq.points.map(p=>[p[0],Number(p[c.indexOf('collateral')])]),'USDC','#2e7d32',eq.points.map(p=>[p[0],Number(p[c.indexOf('required_collateral')])]))))}
          }
          if(pos){const rows=(pos.positions||[]).map(p=>el('tr',{},el('td',{},p.side),el('td',{},num(p.quantity)),el('td',{},num(p.entry_price,4)),el('td',{},num(p.mark,4)),el('td',{},num(p.unrealized_pnl)),el('td',{},num(p.liquidation_price,4)),el('td',{},pct(p.distance_to_liquidation)),el('td',{},p.margin_mode),el('td',{},num(p.margin))));
            view.push(el('section',{},el('h3',{},'Open positions'),rows.length?el('table',{},el('tr',{},...['side','quantity','entry','mark','unrealized P&L','liquidation','distance','margin mode','margin'].map(h=>el('th',{},h))),...rows):el('p',{class:'muted'},'Flat.')));}
          if(risk&&!risk.problem){
            const items=[];
            items.push(el('p',{},'State: ',el('b',{'data-field':'state'},risk.state||'—'),risk.circuit_breaker?el('span',{class:'badge warn'},' circuit breaker: no entries until '+when(risk.circuit_breaker.until)+' ('+left(risk.circuit_breaker.seconds_left)+' left)'):null,risk.gate?' · orders: '+risk.gate:null,risk.gate_reason?' ('+risk.gate_reason+')':null));
            if(risk.leverage){const cap=Number(risk.leverage.cap),used=Number(risk.leverage.used||0),ecap=Number(risk.exposure.cap),eused=Number(risk.exposure.used||0);
              items.push(el('p',{},'Regime: '+risk.regime.name+' (σ '+pct(risk.regime.annual_volatility)+' a year)'));
              items.push(el('p',{},'Leverage '+num(used)+'x of '+num(cap)+'x ',bar(used/cap)));
              items.push(el('p',{},'Exposure '+pct(eused)+' of '+pct(ecap)+' ',bar(eused/ecap)));
              const q=risk.quiet_hours;items.push(el('p',{},q.start_hour_utc===q.end_hour_utc?'Quiet hours: none':'Quiet hours '+q.start_hour_utc+':00–'+q.end_hour_utc+':00 UTC'+(q.now?' (now: no entries)':'')));}
            if(risk.paper_record){const r=risk.paper_record;items.push(el('p',{},'Paper record: '+num(r.live_days,1)+' of '+r.required_days+' days toward going live ',bar(r.live_days/r.required_days),r.complete?' complete':''))}
            if(risk.warning_price)items.push(el('p',{},'Warning price '+num(risk.warning_price,4)+(risk.warned?' (crossed)':'')));
            if(risk.halted)items.push(el('p',{class:'problem'},'Halted: '+risk.halted));
            const ks=risk.kill_switch;if(ks&&ks.pending_stops)items.push(el('p',{class:'problem'},'Kill switch requested'+(ks.flatten?' (flatten)':'')+' at '+when(ks.requested)+', waiting for the session\\'s process'));
            if(!readOnly&&s&&s.can_stop)items.push(el('button',{class:'kill',onclick:()=>kill(id)},'Stop and flatten'));
            view.push(el('section',{},el('h3',{},'Risk'),...items));
          }
          if(fund&&!fund.problem&&(fund.funding_rate!==undefined||fund.funding_paid!==undefined)){
            view.push(el('section',{},el('h3',{},'Funding'),el('div',{class:'cards'},card('Rate',fund.funding_rate!=null?pct(fund.funding_rate):'—','funding_rate'),card('Annualised',pct(fund.funding_apr),'funding_apr'),card('Next settlement',fund.next_settlement?when(fund.next_settlement)+' ('+left(fund.seconds_to_next)+')':'—','next_settlement'),card('Next funding paid',num(fund.next_funding_paid),'next_funding_paid'),card('Funding paid',num(fund.funding_paid),'funding_paid'))));
          }
          const fl=el('div',{class:'filters'},el('button',{class:filter?'':'on',onclick:()=>{filter=null;loadSession()}},'all'),...groups.map(([n,e])=>el('button',{class:filter===e?'on':'',onclick:()=>{filter=e;loadSession()}},n)));
          const jr=(journal.rows||[]).map(r=>el('tr',{'data-seq':r.seq},el('td',{},when(r.time)),el('td',{},r.kind?r.event+' · '+r.kind:r.event),el('td',{},r.side||''),el('td',{},r.price!=null?num(r.price,4):''),el('td',{},r.reason||r.text||''),el('td',{class:'muted'},r.signals?Object.entries(r.signals).map(([k,v])=>k+' '+Number(v).toFixed(3)).join(', '):'')));
          view.push(el('section',{},el('h3',{},'Journal, newest first'),fl,journal.problem?el('p',{class:'problem'},journal.problem):null,el('table',{id:'journal'},el('tr',{},...['time','event','side','price','reason','signals'].map(h=>el('th',{},h))),...jr)));
          main.replaceChildren(...view);
          // Markers for the browser tests and the benchmark: when the first view was drawn, and
          // how many refreshes since.
          if(!window.nmrperpFirstView){window.nmrperpFirstView=performance.now();document.body.dataset.ready='1'}
          document.body.dataset.updates=String(Number(document.body.dataset.updates||0)+1);
        }
        function bar(f){const b=el('span',{class:'bar'});const i=el('i');i.style.width=Math.max(0,Math.min(1,f||0))*100+'%';if(f>0.9)i.style.background='#c62828';b.append(i);return b}
        function chart(points,unit,color,second){
          const W=900,H=220,L=104,B=28,T=8,R=12;const ns='http://www.w3.org/2000/svg';
          const svg=document.createElementNS(ns,'svg');svg.setAttribute('viewBox','0 0 '+W+' '+H);svg.setAttribute('width','100%');svg.setAttribute('role','img');
          const all=points.concat(second||[]).filter(p=>Number.isFinite(p[1]));
          if(all.length<1){const t=document.createElementNS(ns,'text');t.setAttribute('x',L);t.setAttribute('y',H/2);t.textContent='No data yet';svg.append(t);return svg}
          let x0=Math.min(...all.map(p=>p[0])),x1=Math.max(...all.map(p=>p[0])),y0=Math.min(...all.map(p=>p[1])),y1=Math.max(...all.map(p=>p[1]));
          if(x1===x0)x1=x0+1;if(y1===y0){y1+=1;y0-=1}
          const sx=x=>L+(x-x0)/(x1-x0)*(W-L-R),sy=y=>T+(1-(y-y0)/(y1-y0))*(H-T-B);
          const line=(x1_,y1_,x2_,y2_,c)=>{const l=document.createElementNS(ns,'line');l.setAttribute('x1',x1_);l.setAttribute('y1',y1_);l.setAttribute('x2',x2_);l.setAttribute('y2',y2_);l.setAttribute('stroke',c);return l};
          const text=(x,y,s,a)=>{const t=document.createElementNS(ns,'text');t.setAttribute('x',x);t.setAttribute('y',y);if(a)t.setAttribute('text-anchor',a);t.textContent=s;return t};
          for(let i=0;i<=4;i++){const v=y0+(y1-y0)*i/4,y=sy(v);svg.append(line(L,y,W-R,y,'#eceef2'),text(L-6,y+4,num(v)+(i===4?' '+unit:''),'end'))}
          for(let i=0;i<=5;i++){const v=x0+(x1-x0)*i/5,x=sx(v);const d=new Date(v).toISOString();const label=((x1-x0)>2*86400000?d.slice(0,10):d.slice(5,16).replace('T',' '))+(i===5?' UTC':'');svg.append(line(x,T,x,H-B,'#f2f3f6'),text(x,H-8,label,i===0?'start':(i===5?'end':'middle')))}
          for(const [pts,c] of [[points,color],[second,'#9aa3b5']]){if(!pts||!pts.length)continue;const p=document.createElementNS(ns,'polyline');p.setAttribute('fill','none');p.setAttribute('stroke',c);p.setAttribute('stroke-width','1.5');p.setAttribute('points',pts.filter(q=>Number.isFinite(q[1])).map(q=>sx(q[0]).toFixed(1)+','+sy(q[1]).toFixed(1)).join(' '));svg.append(p)}
          return svg}
        async function kill(id){
          if(!confirm('Stop '+id+' and close its position? The session\\'s own process cancels its orders and flattens with a reduce-only market order.'))return;
          const r=await fetch(path(id,'stop'),{method:'POST',headers:{'Content-Type':'application/json','X-CSRF-Token':token},body:JSON.stringify({flatten:true,reason:'kill switch on the dashboard'})});
          const j=await r.json();alert(j.message||j.error);loadList();loadSession()}
        function schedule(){if(timer)return;timer=setTimeout(()=>{timer=null;loadList();loadSession()},100)}
        function connect(){const es=new EventSource('/api/events'+(remote?'?token='+encodeURIComponent(token):''));const c=document.getElementById('conn');
          es.addEventListener('hello',()=>{c.textContent='live';c.className='badge ok'});
          es.addEventListener('change',ev=>{let ids=[];try{ids=JSON.parse(ev.data).ids}catch(e){}if(!selected||ids.includes(selected)){schedule()}else loadList()});
          es.onerror=()=>{c.textContent='reconnecting…';c.className='badge bad'}}
        setInterval(()=>{document.getElementById('clock').textContent=new Date().toISOString().slice(0,19).replace('T',' ')+' UTC'},1000);
        loadList().then(()=>{const h=decodeURIComponent(location.hash.slice(1));if(h&&sessions.some(s=>s.id===h))select(h);else if(sessions.length)select(sessions[0].id);else{window.nmrperpFirstView=performance.now();document.body.dataset.ready='1'}});
        connect();
        """
}
