import type { Messages } from './en';

/** Japanese texts. Typed as `Messages`, so a missing or extra key fails the build. */
export const ja: Messages = {
  app: {
    name: 'Custodian',
    skipToContent: '本文へ移動',
    pageTitle: '{page} · Custodian',
    loading: '読み込み中…',
  },
  language: {
    label: '言語',
  },
  topBar: {
    mainNav: 'メイン',
    backup: 'バックアップ',
    restore: 'リストア',
    admin: '管理',
    changePassword: 'パスワード変更',
    signedInAs: '{userId} としてサインイン中',
    signOut: 'サインアウト',
    signOutFailed: 'まだサインインしたままです',
  },
  adminNav: {
    label: '管理メニュー',
    dashboard: 'ダッシュボード',
    escrowRecords: 'エスクロー記録',
    alerts: 'アラート',
    users: 'ユーザー',
    auditLog: '監査ログ',
    remoteCopy: 'リモートコピー',
    site: 'サイト',
  },
  login: {
    title: 'Custodian にサインイン',
    intro: '管理者から受け取ったユーザーIDとパスワードを入力してください。',
    userId: 'ユーザーID',
    password: 'パスワード',
    submit: 'サインイン',
    missingFields: 'ユーザーIDとパスワードの両方を入力してから、サインインしてください。',
  },
  account: {
    title: 'パスワード変更',
    intro: '他では使っていない、{min} 文字以上の新しいパスワードを選んでください。',
    mustChange: '続ける前に新しいパスワードを設定するよう、管理者から求められています。',
    sessionEnds: 'このセッションは {time} に終了します。',
    currentPassword: '現在のパスワード',
    newPassword: '新しいパスワード',
    confirmPassword: 'パスワードの確認',
    submit: '新しいパスワードを保存',
    tooShort: '新しいパスワードが短すぎます。{min} 文字以上にしてください。',
    mismatch: '2 つの新しいパスワードが一致しません。両方の欄に同じパスワードを入力してください。',
    missingCurrent: '現在のパスワードを入力してください。',
    changed: 'パスワードを変更しました。次回のサインインからは新しいパスワードを使ってください。',
    continue: 'ホームページへ進む',
  },
  backup: {
    title: 'メディアイメージのバックアップ',
    emptyTitle: 'ボリュームはまだありません',
    emptyText: 'バックアップしたボリュームは、世代と受領証とともにここに一覧表示されます。',
  },
  restore: {
    title: 'メディアイメージのリストア',
    emptyTitle: 'リストアできるボリュームはまだありません',
    emptyText:
      'リストア担当者として登録されたボリュームと、自分が所有するボリュームがここに一覧表示されます。',
  },
  admin: {
    dashboard: {
      title: 'ダッシュボード',
      emptyTitle: '表示できるものはまだありません',
      emptyText: 'アラート、エスクロー記録、コピーの概要がここに表示されます。',
    },
    escrowRecords: {
      title: 'エスクロー記録',
      emptyTitle: 'エスクロー記録はまだありません',
      emptyText: 'オペレーターがボリュームをバックアップすると、エスクロー記録が作成されます。',
    },
    alerts: {
      title: 'アラート',
      emptyTitle: 'アラートはありません',
      emptyText: '拒否されたサインインや鍵の要求などのセキュリティイベントがここに表示されます。',
    },
    users: {
      title: 'ユーザー',
      emptyTitle: 'ユーザー一覧はここに表示されます。',
      emptyText: 'アカウントとそのロール、セッションはこのページで管理します。',
    },
    auditLog: {
      title: '監査ログ',
      emptyTitle: '監査ログの記録はまだありません。',
      emptyText: 'サイトで行われたセキュリティ上重要な操作がすべてここに一覧表示されます。',
    },
    remoteCopy: {
      title: 'リモートコピー',
      emptyTitle: 'リモートコピーのペアはまだありません。',
      emptyText: 'ボリュームがこのサイトにバックアップされると、ペアが表示されます。',
    },
    site: {
      title: 'サイト',
      intro: 'このコンソールが接続しているエスクローサイトです。',
      name: 'サイト名',
      version: 'バージョン',
      siteId: 'サイトID',
      escrowKey: 'エスクロー鍵のフィンガープリント',
      signingKey: '受領証署名鍵のフィンガープリント',
      mode: 'モード',
      demoMode: 'デモ（デモ用アカウントが有効）',
      productionMode: '本番',
      loadFailed: 'サイトの情報を読み込めませんでした。',
      retry: '再試行',
    },
  },
  notAllowed: {
    title: '許可されていません',
    text: 'あなたのアカウント（{userId}）には、このページを開くために必要なロールがありません。',
    hint: '必要な場合は、管理者にロールの付与を依頼してください。',
    home: 'ホームページへ移動',
  },
  notFound: {
    title: 'ページが見つかりません',
    text: '{path} というページはありません。',
    home: 'ホームページへ移動',
  },
  errors: {
    unauthorized_user:
      '認証されていないユーザーです。ユーザーIDまたはパスワードが正しくありません。両方を確認して、もう一度お試しください。',
    locked_out:
      'このアドレスからこのユーザーへのサインインの失敗が多すぎます。しばらく待ってから、もう一度お試しください。',
    not_signed_in: 'サインインしていません。サインインしてから、もう一度お試しください。',
    session_expired: 'セッションが終了しました。続けるには、もう一度サインインしてください。',
    forbidden:
      'あなたのアカウントにはこの操作が許可されていません。必要な場合は管理者に依頼してください。',
    csrf_required:
      '安全用のヘッダーがない要求をサイトが拒否しました。ページを再読み込みして、もう一度お試しください。',
    invalid_request:
      '送信した内容をサイトが受け付けませんでした。入力欄を確認して、もう一度お試しください。',
    malformed_json:
      'サイトが要求を読み取れませんでした。ページを再読み込みして、もう一度お試しください。',
    body_too_large:
      '送信した内容がサイトの上限を超えています。一度に送る量を減らして、もう一度お試しください。',
    unsupported_media_type:
      'サイトはこの種類の内容を受け付けません。ページを再読み込みして、もう一度お試しください。',
    not_found:
      'サイトにこの項目がありません。削除された可能性があります。ページを再読み込みしてください。',
    weak_password:
      '新しいパスワードが弱すぎます。{min} 文字以上で、以前のパスワードと異なり、ユーザーIDを含まないものにしてください。',
    wrong_password: '現在のパスワードが正しくありません。もう一度入力してください。',
    password_change_required:
      '続ける前に新しいパスワードを設定する必要があります。パスワード変更のページで変更してください。',
    network_error:
      'サイトに接続できませんでした。ネットワーク接続を確認して、もう一度お試しください。',
    timeout: 'サイトの応答に時間がかかりすぎました。少し待ってから、もう一度お試しください。',
    server_error:
      'サイトで問題が発生しました。もう一度お試しください。繰り返し発生する場合は管理者に連絡してください。',
    unexpected: 'コンソールで問題が発生しました。ページを再読み込みして、もう一度お試しください。',
    retryAfter: '約 {n} 分後にもう一度お試しいただけます。',
  },
};
