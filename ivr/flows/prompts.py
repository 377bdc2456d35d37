"""What callers hear: one catalogue per language, keyed by prompt name.

Written to be spoken: short sentences, the action before the key ("to lock it, press 3"),
the most urgent option first. Simplified Chinese (Mandarin) for zh-CN, Traditional Chinese
in spoken Cantonese for zh-HK. `tests/test_prompts.py` fails when a language lacks a key or
a placeholder that another has.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from babel.dates import format_datetime

_EN_COMMON = {
    "welcome": "Thank you for calling OK Wallet.",
    "open_now": "Our support team is here to help.",
    "closed_now": "Our support team is away right now and will be back {when}. "
    "You can still lock a stolen wallet or use self-service at any time.",
    "closed_holiday": "Our support team is off today for a public holiday and will be back {when}. "
    "You can still lock a stolen wallet or use self-service at any time.",
    "closed_closure": "Our support team is closed today and will be back {when}. "
    "You can still lock a stolen wallet or use self-service at any time.",
    "closed_emergency": "Our support team can't take calls right now because of {why}. "
    "You can still lock a stolen wallet or use self-service at any time.",
    "menu_theft": "If your wallet was stolen, press 3 to lock it now.",
    "main_menu": "For a forgotten username or password, press 1. For a transfer or payment, press 2.",
    "menu_agent": "To speak to an agent, press 0.",
    "menu_repeat": "To hear these options again, press star.",
    "switch_language": "For English, press 9.",
    "no_input": "Sorry, I didn't hear a choice.",
    "invalid_key": "Sorry, that key isn't one of the options.",
    "connecting": "Please hold while I connect you to an agent.",
    "agents_closed": "Our agents are away right now and will be back {when}.",
    "agents_closed_no_time": "Our agents are away right now.",
    "apology": "We're sorry, something went wrong on our side. "
    "Let me put you through to someone who can help.",
    "goodbye": "Thank you for calling OK Wallet. Goodbye.",
    "when_today": "today at {time}",
    "when_tomorrow": "tomorrow at {time}",
    "when_later": "on {date} at {time}",
    "closed_emergency_until": "Our support team can't take calls right now because of {why}, and will be back {when}. "
    "You can still lock a stolen wallet or use self-service at any time.",
    "emergency_outage": "a technical problem",
    "emergency_weather": "severe weather",
    "emergency_maintenance": "planned maintenance",
    "emergency_other": "an unexpected disruption",
    # identifying an account by its registered phone
    "number_hidden": "Your number is hidden, so I'll need the phone number registered to the account.",
    "enter_phone": "Please enter that phone number, starting with the country code, then press hash.",
    "bad_phone": "Sorry, that doesn't look like a full phone number.",
    # theft lockdown
    "lockdown_menu": "To lock the wallet registered to the phone you're calling from, press 1. "
    "To lock a different wallet, press 2.",
    "enter_pin": "Now enter that wallet's 4-digit PIN, then press hash.",
    "pin_mismatch": "Sorry, that phone number and PIN don't match.",
    "lock_done": "Done. If a wallet is registered to that number, it is now locked. No money can leave it.",
    "lock_not_verified": "I couldn't confirm that wallet, so our fraud team will help you lock it.",
    "lock_failed": "I couldn't finish the lock myself, so our fraud team will lock it with you right now.",
    "reference_is": "Your reference number is {digits}. Again, that's {digits}.",
    "reference_texted": "If a wallet is registered to that number, we've also texted the reference to it.",
    "to_fraud_desk": "Now connecting you to our fraud team, who are here around the clock.",
    "sms_lockdown": "OK Wallet: your wallet is locked, reference {reference}. Next: change your password, "
    "check your recent transactions, and report large losses to the police. Questions? Call us any time.",
    # account recovery
    "recovery_menu": "For a text with your username, press 1. For a link to reset your password, press 2. "
    "If your account uses a different phone number, press 3.",
    "recovery_sent": "If that number is registered with us, we've just sent it a text. "
    "It can take a minute or two to arrive.",
    "anything_else": "Is there anything else?",
    "sms_username": "OK Wallet: your username is {username}. If you didn't ask for this, please call us.",
    "sms_reset": "OK Wallet: reset your password within 30 minutes using this link: {link} "
    "It works once. If you didn't ask for it, don't share it and call us.",
    # transactions
    "code_intro": "To keep your account safe, I'm texting a 6-digit code to the phone registered to the account.",
    "enter_code": "When it arrives, enter the code, then press hash.",
    "code_wrong": "Sorry, that code isn't right, or it has expired.",
    "code_menu": "To get a new code, press 1.",
    "sms_code": "OK Wallet: your code is {code}. It expires in 5 minutes. We will never ask you to read it out to anyone.",
    "enter_reference": "Please enter the transaction reference, then press hash.",
    "txn_not_found": "Sorry, I couldn't find that reference on your account.",
    "txn_retry_menu": "To try another reference, press 1.",
    "txn_pending": "Transaction {reference}, for {amount}, is still pending.",
    "txn_completed": "Transaction {reference}, for {amount}, has been completed.",
    "txn_failed": "Transaction {reference}, for {amount}, did not go through.",
    "txn_cancelled": "Transaction {reference}, for {amount}, was cancelled.",
    "txn_pending_menu": "To cancel it, press 1. To open a dispute, press 2.",
    "txn_dispute_menu": "If something's wrong with it, press 2 to open a dispute.",
    "cancel_done": "Done. Transaction {reference} is cancelled, and the money stays in your wallet.",
    "cancel_too_late": "Sorry, that transaction can't be cancelled any more.",
    "dispute_opened": "I've opened a dispute, and our team will look into it.",
    "sms_dispute": "OK Wallet: we've opened dispute {reference} for transaction {transaction}. We'll text you with updates.",
    "backend_down": "Sorry, I can't reach our wallet system right now.",
    # when no agent can take the call
    "agents_busy": "Sorry, all our agents are busy right now.",
    "agents_no_answer": "Sorry, none of our agents could answer just now.",
    "agents_failed": "Sorry, I couldn't put you through to an agent.",
    "support_email": "You can also email us at {email}.",
    "email_at": "at",
    "email_dot": "dot",
    "offer_menu": "To have us call you back, press 1. To leave a message, press 2.",
    "callback_enter": "Please enter the number we should call you on, starting with the country code, then press hash.",
    "callback_refused": "Sorry, we can't call that number back. We can call a mobile or landline in the countries we serve.",
    "callback_booked": "Thank you. We'll call you back on the number ending {last4} as soon as an agent is free.",
    "callback_exists": "You're already on our call-back list for the number ending {last4}, and you keep your place.",
    "voicemail_prompt": "After the tone, please say your name and how we can help. Press hash when you've finished.",
    "voicemail_thanks": "Thank you. We've got your message and will get back to you.",
    "voicemail_empty": "Sorry, I didn't hear a message.",
    "queue_position": "You're number {position} in line.",
    "queue_wait_short": "The wait should be less than a minute.",
    "queue_wait_one": "The average wait is about a minute.",
    "queue_wait_minutes": "The average wait is about {minutes} minutes.",
    "queue_leave": "To leave the line and have us call you back without losing your place, press 1.",
    "queue_full": "Sorry, our line is full right now.",
}

CATALOGUE: dict[str, dict[str, str]] = {
    "en-US": _EN_COMMON,
    "en-GB": {
        **_EN_COMMON,
        "no_input": "Sorry, I didn't catch a choice.",
        "open_now": "Our support team is here to help.",
    },
    "zh-CN": {
        "welcome": "您好，这里是OK钱包。",
        "open_now": "人工客服现在可以为您服务。",
        "closed_now": "人工客服现在休息，将于{when}恢复服务。钱包被盗锁定和自助服务全天二十四小时可用。",
        "closed_holiday": "今天是法定节假日，人工客服休息，将于{when}恢复服务。"
        "钱包被盗锁定和自助服务全天二十四小时可用。",
        "closed_closure": "人工客服今天暂停服务，将于{when}恢复。钱包被盗锁定和自助服务全天二十四小时可用。",
        "closed_emergency": "由于{why}，人工客服暂时无法接听。钱包被盗锁定和自助服务仍然可用。",
        "menu_theft": "钱包被盗，请按3，立即锁定。",
        "main_menu": "忘记用户名或密码，请按1。查询转账或交易，请按2。",
        "menu_agent": "人工服务，请按0。",
        "menu_repeat": "重听，请按星号键。",
        "switch_language": "普通话服务，请按9。",
        "no_input": "抱歉，没有听到您的选择。",
        "invalid_key": "抱歉，您按的键不在选项中。",
        "connecting": "正在为您转接人工客服，请稍候。",
        "agents_closed": "人工客服现在休息，将于{when}恢复服务。",
        "agents_closed_no_time": "人工客服现在暂时无法接听。",
        "apology": "非常抱歉，我们的系统出了点问题。现在为您转接客服人员。",
        "goodbye": "感谢您致电OK钱包，再见。",
        "when_today": "今天{time}",
        "when_tomorrow": "明天{time}",
        "when_later": "{date}{time}",
        "closed_emergency_until": "由于{why}，人工客服暂时无法接听，将于{when}恢复。钱包被盗锁定和自助服务仍然可用。",
        "emergency_outage": "技术故障",
        "emergency_weather": "恶劣天气",
        "emergency_maintenance": "计划内的系统维护",
        "emergency_other": "突发情况",
        "number_hidden": "您的来电号码已隐藏，需要您提供账户绑定的手机号。",
        "enter_phone": "请输入该手机号，以国家代码开头，输完请按井号键。",
        "bad_phone": "抱歉，这个号码好像不完整。",
        "lockdown_menu": "锁定本机绑定的钱包，请按1。锁定其他号码的钱包，请按2。",
        "enter_pin": "请输入该钱包的4位PIN码，输完请按井号键。",
        "pin_mismatch": "抱歉，手机号和PIN码不匹配。",
        "lock_done": "已完成。如果该号码绑定了钱包，现已锁定。资金无法再转出。",
        "lock_not_verified": "我们无法确认这个钱包，反诈骗团队会协助您锁定。",
        "lock_failed": "系统暂时无法自动锁定，反诈骗团队会马上和您一起锁定。",
        "reference_is": "您的受理编号是 {digits}。再说一遍，{digits}。",
        "reference_texted": "如果该号码绑定了钱包，受理编号也已通过短信发送到该号码。",
        "to_fraud_desk": "现在为您转接二十四小时反诈骗团队。",
        "sms_lockdown": "【OK钱包】您的钱包已锁定，受理编号{reference}。请尽快修改密码、核对近期交易；损失较大请向警方报案。如有疑问，请随时致电我们。",
        "recovery_menu": "短信获取用户名，请按1。获取重置密码链接，请按2。如果账户绑定的是其他手机号，请按3。",
        "recovery_sent": "如果该号码已在我们这里注册，短信已经发出，一两分钟内就会收到。",
        "anything_else": "还有什么可以帮您？",
        "sms_username": "【OK钱包】您的用户名是{username}。如非本人操作，请致电我们。",
        "sms_reset": "【OK钱包】请在30分钟内通过此链接重置密码：{link} 链接仅可使用一次。如非本人操作，请勿转发并致电我们。",
        "code_intro": "为了您的账户安全，我们正在向账户绑定的手机发送6位验证码。",
        "enter_code": "收到后请输入验证码，输完请按井号键。",
        "code_wrong": "抱歉，验证码不正确或已过期。",
        "code_menu": "重新获取验证码，请按1。",
        "sms_code": "【OK钱包】您的验证码是{code}，5分钟内有效。我们绝不会要求您把验证码告诉任何人。",
        "enter_reference": "请输入交易编号，输完请按井号键。",
        "txn_not_found": "抱歉，您的账户中没有找到这个交易编号。",
        "txn_retry_menu": "查询其他交易编号，请按1。",
        "txn_pending": "交易{reference}，金额{amount}，目前还在处理中。",
        "txn_completed": "交易{reference}，金额{amount}，已经完成。",
        "txn_failed": "交易{reference}，金额{amount}，没有成功。",
        "txn_cancelled": "交易{reference}，金额{amount}，已经取消。",
        "txn_pending_menu": "取消这笔交易，请按1。提出争议，请按2。",
        "txn_dispute_menu": "如果这笔交易有问题，请按2提出争议。",
        "cancel_done": "已完成。交易{reference}已取消，资金仍在您的钱包中。",
        "cancel_too_late": "抱歉，这笔交易已经无法取消。",
        "dispute_opened": "争议已受理，我们的团队会尽快核查。",
        "sms_dispute": "【OK钱包】交易{transaction}的争议已受理，编号{reference}。处理进展将短信通知您。",
        "backend_down": "抱歉，暂时无法连接钱包系统。",
        "agents_busy": "抱歉，人工客服现在都在忙。",
        "agents_no_answer": "抱歉，人工客服暂时无人接听。",
        "agents_failed": "抱歉，暂时无法为您接通人工客服。",
        "support_email": "您也可以发邮件到 {email}。",
        "email_at": "at",
        "email_dot": "点",
        "offer_menu": "需要我们给您回电，请按1。给我们留言，请按2。",
        "callback_enter": "请输入我们回电的号码，以国家代码开头，输完请按井号键。",
        "callback_refused": "抱歉，我们无法回拨这个号码。我们可以回拨服务地区的手机或固定电话。",
        "callback_booked": "谢谢。客服有空后会马上回电到尾号{last4}的号码。",
        "callback_exists": "尾号{last4}的号码已经在回电名单上了，您的排队顺序保持不变。",
        "voicemail_prompt": "听到提示音后，请留下您的姓名和需要帮助的问题，说完请按井号键。",
        "voicemail_thanks": "谢谢，我们已收到您的留言，会尽快回复您。",
        "voicemail_empty": "抱歉，没有听到您的留言。",
        "queue_position": "您现在排在第{position}位。",
        "queue_wait_short": "预计等待不到一分钟。",
        "queue_wait_one": "平均等待大约一分钟。",
        "queue_wait_minutes": "平均等待大约{minutes}分钟。",
        "queue_leave": "不想继续等待，请按1，我们会保留您的排队顺序，给您回电。",
        "queue_full": "抱歉，现在排队人数已满。",
    },
    "zh-HK": {
        "welcome": "你好，呢度係OK錢包。",
        "open_now": "客服同事而家可以為你服務。",
        "closed_now": "客服同事而家休息，會喺{when}恢復服務。錢包被盜鎖定同自助服務，全日二十四小時都用得。",
        "closed_holiday": "今日係公眾假期，客服同事休息，會喺{when}恢復服務。"
        "錢包被盜鎖定同自助服務，全日二十四小時都用得。",
        "closed_closure": "客服同事今日暫停服務，會喺{when}恢復。錢包被盜鎖定同自助服務，全日二十四小時都用得。",
        "closed_emergency": "因為{why}，客服同事暫時未能接聽。錢包被盜鎖定同自助服務照常用得。",
        "menu_theft": "錢包被盜，請按3，即刻鎖定。",
        "main_menu": "唔記得用戶名或者密碼，請按1。查詢轉賬或者交易，請按2。",
        "menu_agent": "搵客服同事，請按0。",
        "menu_repeat": "再聽一次，請按星號。",
        "switch_language": "廣東話服務，請按9。",
        "no_input": "唔好意思，聽唔到你嘅選擇。",
        "invalid_key": "唔好意思，你按嘅掣唔喺選項入面。",
        "connecting": "而家幫你轉駁客服同事，請稍等。",
        "agents_closed": "客服同事而家休息，會喺{when}恢復服務。",
        "agents_closed_no_time": "客服同事而家暫時未能接聽。",
        "apology": "非常抱歉，我哋嘅系統出咗啲問題。而家幫你轉駁客服同事。",
        "goodbye": "多謝你致電OK錢包，再見。",
        "when_today": "今日{time}",
        "when_tomorrow": "聽日{time}",
        "when_later": "{date}{time}",
        "closed_emergency_until": "因為{why}，客服同事暫時未能接聽，會喺{when}恢復。錢包被盜鎖定同自助服務照常用得。",
        "emergency_outage": "技術故障",
        "emergency_weather": "惡劣天氣",
        "emergency_maintenance": "預定嘅系統維修",
        "emergency_other": "突發情況",
        "number_hidden": "你嘅來電號碼隱藏咗，需要你提供戶口登記嘅手機號碼。",
        "enter_phone": "請輸入嗰個手機號碼，由國家代碼開始，輸入完請按井號。",
        "bad_phone": "唔好意思，呢個號碼好似唔完整。",
        "lockdown_menu": "鎖定本機登記嘅錢包，請按1。鎖定其他號碼嘅錢包，請按2。",
        "enter_pin": "請輸入嗰個錢包嘅4位數字PIN碼，輸入完請按井號。",
        "pin_mismatch": "唔好意思，手機號碼同PIN碼唔吻合。",
        "lock_done": "搞掂。如果呢個號碼有登記錢包，而家已經鎖定。啲錢轉唔出去。",
        "lock_not_verified": "我哋確認唔到呢個錢包，防詐騙團隊會幫你鎖定。",
        "lock_failed": "系統暫時未能自動鎖定，防詐騙團隊會即刻同你一齊鎖定。",
        "reference_is": "你嘅參考編號係 {digits}。再講一次，{digits}。",
        "reference_texted": "如果呢個號碼有登記錢包，參考編號亦已經用短訊傳咗過去。",
        "to_fraud_desk": "而家幫你轉駁二十四小時防詐騙團隊。",
        "sms_lockdown": "【OK錢包】你嘅錢包已經鎖定，參考編號{reference}。請盡快更改密碼、檢查最近嘅交易；損失較大請報警。有問題隨時致電我哋。",
        "recovery_menu": "用短訊收用戶名稱，請按1。收重設密碼連結，請按2。如果戶口登記咗其他手機號碼，請按3。",
        "recovery_sent": "如果呢個號碼已經登記，我哋啱啱傳咗短訊過去，一兩分鐘內會收到。",
        "anything_else": "仲有咩可以幫到你？",
        "sms_username": "【OK錢包】你嘅用戶名稱係{username}。如果唔係你本人要求，請致電我哋。",
        "sms_reset": "【OK錢包】請喺30分鐘內用呢條連結重設密碼：{link} 連結只可以用一次。如果唔係你本人要求，唔好轉發，並請致電我哋。",
        "code_intro": "為咗保障你嘅戶口，我哋而家傳一個6位數字驗證碼去戶口登記嘅手機。",
        "enter_code": "收到之後請輸入驗證碼，輸入完請按井號。",
        "code_wrong": "唔好意思，驗證碼唔啱或者已經過期。",
        "code_menu": "要新嘅驗證碼，請按1。",
        "sms_code": "【OK錢包】你嘅驗證碼係{code}，5分鐘內有效。我哋絕對唔會叫你將驗證碼話俾任何人知。",
        "enter_reference": "請輸入交易編號，輸入完請按井號。",
        "txn_not_found": "唔好意思，你嘅戶口搵唔到呢個交易編號。",
        "txn_retry_menu": "查詢其他交易編號，請按1。",
        "txn_pending": "交易{reference}，金額{amount}，仲喺處理緊。",
        "txn_completed": "交易{reference}，金額{amount}，已經完成。",
        "txn_failed": "交易{reference}，金額{amount}，冇成功。",
        "txn_cancelled": "交易{reference}，金額{amount}，已經取消。",
        "txn_pending_menu": "取消呢單交易，請按1。提出爭議，請按2。",
        "txn_dispute_menu": "如果呢單交易有問題，請按2提出爭議。",
        "cancel_done": "搞掂。交易{reference}已經取消，啲錢仍然喺你個錢包度。",
        "cancel_too_late": "唔好意思，呢單交易已經取消唔到。",
        "dispute_opened": "爭議已經受理，我哋團隊會盡快跟進。",
        "sms_dispute": "【OK錢包】交易{transaction}嘅爭議已經受理，編號{reference}。有進展會用短訊通知你。",
        "backend_down": "唔好意思，暫時連接唔到錢包系統。",
        "agents_busy": "唔好意思，客服同事而家全部都忙緊。",
        "agents_no_answer": "唔好意思，客服同事暫時未能接聽。",
        "agents_failed": "唔好意思，暫時未能幫你接通客服同事。",
        "support_email": "你亦都可以電郵去 {email}。",
        "email_at": "at",
        "email_dot": "dot",
        "offer_menu": "想我哋覆電，請按1。想留言，請按2。",
        "callback_enter": "請輸入我哋覆電嘅號碼，由國家代碼開始，輸入完請按井號。",
        "callback_refused": "唔好意思，我哋唔可以回撥呢個號碼。我哋可以回撥服務地區嘅手機或者固網電話。",
        "callback_booked": "多謝。客服同事一有空就會覆電去尾數{last4}嘅號碼。",
        "callback_exists": "尾數{last4}嘅號碼已經喺覆電名單度，你嘅輪候次序保持不變。",
        "voicemail_prompt": "聽到提示音之後，請留低你嘅名同需要幫手嘅問題，講完請按井號。",
        "voicemail_thanks": "多謝，我哋已經收到你嘅留言，會盡快回覆你。",
        "voicemail_empty": "唔好意思，聽唔到你嘅留言。",
        "queue_position": "你而家排第{position}位。",
        "queue_wait_short": "預計等候少過一分鐘。",
        "queue_wait_one": "平均等候大約一分鐘。",
        "queue_wait_minutes": "平均等候大約{minutes}分鐘。",
        "queue_leave": "唔想再等，請按1，我哋會保留你嘅輪候次序覆電俾你。",
        "queue_full": "唔好意思，而家輪候人數已滿。",
    },
}

# Babel locale and patterns for speaking a date and a time of day.
_LOCALES = {
    "en-US": ("en_US", "EEEE, MMMM d", "h a", "h:mm a"),
    "en-GB": ("en_GB", "EEEE d MMMM", "h a", "h:mm a"),
    "zh-CN": ("zh_Hans_CN", "M月d日EEEE", "ah'点'", "ah'点'mm'分'"),
    "zh-HK": ("zh_Hant_HK", "M月d日EEEE", "ah'點'", "ah'點'mm'分'"),
}


def digits(language: str, number: str) -> str:
    """A reference read back digit by digit, in groups of four: '7 0 0 1, 0 0 0 2'."""
    separator = ", " if language.startswith("en") else "，"
    groups = [" ".join(number[i : i + 4]) for i in range(0, len(number), 4)]
    return separator.join(groups)


def amount(language: str, value: str, currency: str) -> str:
    """'120.00' USDT -> '120 U S D T': trailing zeros dropped, the ticker spelled out."""
    shown = value.rstrip("0").rstrip(".") if "." in value else value
    return f"{shown} {' '.join(currency)}"


def email(language: str, address: str) -> str:
    """An address spelled for the ear: each letter apart, '@' and '.' as words."""
    words = {"@": text(language, "email_at"), ".": text(language, "email_dot")}
    return " ".join(words.get(ch, ch) for ch in address)


def wait_time(language: str, seconds: int) -> str:
    """The average wait, rounded up so it is never promised shorter than it is."""
    if seconds < 60:
        return text(language, "queue_wait_short")
    minutes = -(-seconds // 60)
    if minutes == 1:
        return text(language, "queue_wait_one")
    if minutes > 10:
        minutes = -(-minutes // 5) * 5
    return text(language, "queue_wait_minutes", minutes=str(minutes))


def text(language: str, key: str, **values: str) -> str:
    """The prompt `key` in `language`, with its placeholders filled."""
    return CATALOGUE[language][key].format(**values)


def spoken_when(language: str, moment: datetime, now: datetime) -> str:
    """'tomorrow at 9 AM' / '明天上午9点': `moment` in its own zone, relative to `now` there."""
    locale, date_pattern, hour_pattern, minute_pattern = _LOCALES[language]
    time_text = format_datetime(moment, hour_pattern if moment.minute == 0 else minute_pattern, locale=locale)
    today = now.astimezone(moment.tzinfo).date()
    if moment.date() == today:
        return text(language, "when_today", time=time_text)
    if moment.date() == today + timedelta(days=1):
        return text(language, "when_tomorrow", time=time_text)
    return text(
        language, "when_later", date=format_datetime(moment, date_pattern, locale=locale), time=time_text
    )
