use hitkeep_collector_core::{classify_user_agent, is_bot};
#[test]
fn corpus() {
    let crawlers: serde_json::Value = serde_json::from_str(&std::fs::read_to_string("/tmp/npmdata/crawler-user-agents-1.60.0/package/crawler-user-agents.json").unwrap()).unwrap();
    let (mut total, mut missed) = (0, 0);
    for entry in crawlers.as_array().unwrap() { for i in entry["instances"].as_array().into_iter().flatten() { total += 1; if !is_bot(Some(i.as_str().unwrap())) { missed += 1; println!("MISSED {}", i); } } }
    println!("crawlers: {missed} of {total} missed");
    let browsers: serde_json::Value = serde_json::from_str(&std::fs::read_to_string("/tmp/npmdata/user-agents-2.1.198/package/dist/user-agents.json").unwrap()).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for entry in browsers.as_array().unwrap() { seen.insert(entry["userAgent"].as_str().unwrap().to_string()); }
    let top: Vec<String> = serde_json::from_str(&std::fs::read_to_string("/tmp/npmdata/top-user-agents-2.1.138/package/src/index.json").unwrap()).unwrap();
    seen.extend(top);
    let mut flagged = 0;
    for ua in &seen {
        if is_bot(Some(ua)) { flagged += 1; println!("FLAGGED {ua}"); }
        let info = classify_user_agent(ua);
        println!("CLASS {:?} {:?} {:?} {:?} {:?} :: {ua}", info.browser, info.browser_version, info.os, info.os_version, info.device);
    }
    println!("browsers: {flagged} flagged of {}", seen.len());
}
